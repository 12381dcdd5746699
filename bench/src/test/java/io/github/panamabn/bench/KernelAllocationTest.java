package io.github.panamabn.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Implementation;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every kernel allocates nothing per call once warm (what {@code -prof gc} shows as 0 B/op), counted
 * by the JVM's per-thread allocation counter, which no noise can move.
 */
class KernelAllocationTest {
    private static final int CALLS = 1_000;

    @ParameterizedTest(name = "{0} {1} {2} {3}")
    @CsvSource({
        "PANAMA, NCHW, ARRAY, 7x61x13x13", "PANAMA, NHWC, ARRAY, 7x61x13x13", "PANAMA, NCHW, NATIVE, 7x61x13x13",
        "PANAMA, NHWC, NATIVE, 7x61x13x13", "PANAMA, NCHW, ARRAY, 64x128", "PANAMA, NHWC, NATIVE, 32x256x2x2",
        "SCALAR, NCHW, ARRAY, 5x13x7x7", "SCALAR, NHWC, NATIVE, 5x13x7x7"})
    void kernelsAllocateNothingPerCall(Implementation impl, String layout, String storage, String shape) {
        KernelBenchmark k = BenchmarkAgreementTest.state(impl, shape, layout, storage);
        try {
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            Runnable[] kernels = {k::statistics, k::forwardTraining, k::forwardInference, k::backward};
            String[] names = {"statistics", "forwardTraining", "forwardInference", "backward"};
            for (int j = 0; j < kernels.length; j++) {
                for (int i = 0; i < 10_000; i++) {
                    kernels[j].run();
                }
                long before = mx.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < CALLS; i++) {
                    kernels[j].run();
                }
                long bytes = mx.getCurrentThreadAllocatedBytes() - before;
                assertTrue(bytes < CALLS, names[j] + " allocated " + bytes + " bytes in " + CALLS + " calls");
            }
        } finally {
            k.tearDown();
        }
    }
}
