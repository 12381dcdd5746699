package io.github.panamabn.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Channels-last statistics (of whole rows of 128 channels or more) and gradient sums (of whole rows)
 * streaming from memory read rows one at a time instead of four: each channel's updates are the same,
 * so both orders give the same bits, on arrays and segments, for channel counts around the vector width
 * and past 128, and blocks that start mid-row; and the last-level cache size sysfs reports is parsed as
 * Linux writes it.
 */
class StreamingOrderTest {
    @Test
    void rowsOneAtATimeGiveTheSameBitsAsFourAtATime() {
        PanamaBackend backend = new PanamaBackend();
        float[] scratch = new float[backend.scratchFloats()];
        SplittableRandom random = new SplittableRandom(7);
        int lanes = PanamaBackend.LANES;
        for (int channels : new int[] {lanes, lanes + 3, 3 * lanes - 1, 37, 131, 20 * lanes}) {
            for (long rows : new long[] {1, 3, 4, 7, 64, 65, 203}) {
                int n = Math.toIntExact(rows * channels);
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (random.nextGaussian() * 3 + 1e3);
                }
                float[] pivots = Arrays.copyOf(x, channels);
                // whole rows (the order changes) and a block from channel 1 (a block keeps four rows at a time)
                for (int c0 = 0; c0 <= (channels > lanes ? 1 : 0); c0++) {
                    String what = channels + " channels from " + c0 + ", " + rows + " rows";
                    double[] fourAtATime = sums(backend, x, null, rows, channels, c0, pivots, scratch, false);
                    assertTrue(fourAtATime[channels - 1] != 0 && fourAtATime[3 * channels - 1] != 0, what);
                    assertArrayEquals(fourAtATime, sums(backend, x, null, rows, channels, c0, pivots, scratch, true),
                            what + ": array, streaming");
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment segment = arena.allocate((long) n * Float.BYTES);
                        MemorySegment.copy(x, 0, segment, ValueLayout.JAVA_FLOAT, 0, n);
                        for (boolean streaming : new boolean[] {false, true}) {
                            assertArrayEquals(fourAtATime,
                                    sums(backend, null, segment, rows, channels, c0, pivots, scratch, streaming),
                                    what + ": segment, streaming " + streaming);
                        }
                    }
                }
            }
        }
    }

    /** Mean, M2, and the gradient sums with x as dy too (sum(dy), sum(dy (x - pivot))), one after another. */
    private static double[] sums(PanamaBackend backend, float[] xa, MemorySegment xs, long rows, int channels, int c0,
                                 float[] pivots, float[] scratch, boolean streaming) {
        double[] mean = new double[channels];
        double[] m2 = new double[channels];
        backend.rowStatistics(xa, xs, 0, rows, channels, c0, channels, pivots, mean, m2, 0, scratch, streaming);
        double[] sumDy = new double[channels];
        double[] sumDyXc = new double[channels];
        backend.rowGradientSums(xa, xs, 0, xa, xs, 0, null, null, 0, rows, channels, c0, channels, pivots, sumDy,
                sumDyXc, 0, scratch, streaming);
        double[] all = new double[4 * channels];
        System.arraycopy(mean, 0, all, 0, channels);
        System.arraycopy(m2, 0, all, channels, channels);
        System.arraycopy(sumDy, 0, all, 2 * channels, channels);
        System.arraycopy(sumDyXc, 0, all, 3 * channels, channels);
        return all;
    }

    @Test
    void sysfsSizesParse() {
        assertEquals(32L << 20, Caches.parseSize("32768K"));
        assertEquals(1L << 20, Caches.parseSize("1M"));
        assertEquals(512, Caches.parseSize("512"));
        assertTrue(Caches.LAST_LEVEL > 0);
    }
}
