package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * More than 2^31 elements off-heap (8.6 GB): every index is a long. Channel 0 and channel 1 hold
 * different constants, with one marked element at the far end of channel 0, so an index that wraps
 * or lands in the wrong channel changes the statistics.
 */
class HugeTensorTest {
    private static final long SPATIAL = (1L << 30) + 5;

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void statisticsAndInPlaceNormalizeBeyondTwoToThe31Elements(Implementation impl) {
        long needed = 2 * SPATIAL * Float.BYTES;
        long physical = ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        org.junit.jupiter.api.Assumptions.assumeTrue(physical >= needed + (4L << 30), () -> "skipped: needs "
                + needed / (1 << 20) + " MB of native memory and 4 GB to spare; this machine has " + physical / (1 << 20)
                + " MB (it runs in CI)");
        TensorShape shape = TensorShape.ncl(1, 2, SPATIAL);
        long bytesPerChannel = SPATIAL * Float.BYTES;
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(2 * bytesPerChannel);
            x.asSlice(0, bytesPerChannel).fill((byte) 0x3F);
            x.asSlice(bytesPerChannel, bytesPerChannel).fill((byte) 0x40);
            float a = x.getAtIndex(f, 0);
            float b = x.getAtIndex(f, SPATIAL);
            float marked = a + 1024;
            x.setAtIndex(f, SPATIAL - 1, marked);

            ChannelStatistics s = new ChannelStatistics(2);
            BatchNorm bn = BatchNorm.of(impl);
            Calls.statistics(bn, shape, x, s);
            assertEquals(SPATIAL, s.count());
            double n = SPATIAL;
            double expectedMean = a + 1024 / n;
            double expectedM2 = 1024.0 * 1024 * (n - 1) / n;
            assertEquals(expectedMean, s.mean(0), 1e-9);
            assertEquals(expectedM2, s.m2(0), expectedM2 * 1e-6);
            assertEquals(b, s.mean(1));
            assertEquals(0.0, s.m2(1));

            // Channel 1 is constant: in place it must become beta exactly, up to the last element.
            Calls.forwardInference(bn, shape, x, x, new float[] {a, b}, new float[] {1, 1}, null, new float[] {7, 9},
                    1e-5f, Activation.IDENTITY);
            assertEquals(7f, x.getAtIndex(f, 0));
            assertEquals(9f, x.getAtIndex(f, SPATIAL));
            assertEquals(9f, x.getAtIndex(f, 2 * SPATIAL - 1));
            assertEquals(9f, x.getAtIndex(f, (1L << 31) + 3));
        }
    }
}
