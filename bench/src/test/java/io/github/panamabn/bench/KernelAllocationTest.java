package io.github.panamabn.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Implementation;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every kernel allocates nothing per call once warm (what {@code -prof gc} shows as 0 B/op), counted
 * by the JVM's per-thread allocation counters of the calling thread and of the kernels' worker
 * threads, which no noise can move. It runs in a JVM of its own (the pom's allocation-test execution):
 * after other suites' shapes, C2 has compiled tail paths that box vectors (README, "Known gap").
 */
class KernelAllocationTest {
    private static final int MIN_ROUNDS = 5;
    private static final Duration SETTLE = Duration.ofSeconds(10);

    @ParameterizedTest(name = "{0} {1} {2} {3} threads {4}")
    @CsvSource({
        "PANAMA, NCHW, ARRAY, 7x61x13x13, 1", "PANAMA, NHWC, ARRAY, 7x61x13x13, 1",
        "PANAMA, NCHW, NATIVE, 7x61x13x13, 1", "PANAMA, NHWC, NATIVE, 7x61x13x13, 1",
        "PANAMA, NCHW, ARRAY, 64x128, 1", "PANAMA, NHWC, NATIVE, 32x256x2x2, 1", "PANAMA, NHWC, ARRAY, 64x5x3x3, 1",
        "PANAMA, NCHW, ARRAY, 8x64x28x28, 2", "PANAMA, NHWC, NATIVE, 8x61x28x28, 2", "PANAMA, NCHW, ARRAY, 64x3x32x32, 2",
        "SCALAR, NCHW, ARRAY, 5x13x7x7, 1", "SCALAR, NHWC, NATIVE, 5x13x7x7, 1"})
    void kernelsAllocateNothingPerCall(Implementation impl, String layout, String storage, String shape, int threads) {
        KernelBenchmark k = BenchmarkAgreementTest.state(impl, shape, layout, storage, threads);
        int calls = k.tensor.elementCount() > 100_000 ? 200 : 1_000;
        try {
            com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            Runnable[] kernels = {k::statistics, k::forwardTraining, k::forwardInference, k::backward};
            String[] names = {"statistics", "forwardTraining", "forwardInference", "backward"};
            for (int j = 0; j < kernels.length; j++) {
                for (int i = 0; i < 10 * calls; i++) {
                    kernels[j].run();
                }
                long[] threadIds = kernelThreads();
                // Rounds until one is clean: a shape new to the JIT sends it back to code that profiles
                // (and boxes vectors) until C2, behind a queue on two cores, has compiled it again. A kernel
                // whose compiled code allocates fails every round until the deadline.
                long deadline = System.nanoTime() + SETTLE.toNanos();
                long fewest = Long.MAX_VALUE;
                int rounds = 0;
                while (fewest >= calls && (rounds < MIN_ROUNDS || System.nanoTime() < deadline)) {
                    long before = allocated(mx, threadIds);
                    for (int i = 0; i < calls; i++) {
                        kernels[j].run();
                    }
                    fewest = Math.min(fewest, allocated(mx, threadIds) - before);
                    rounds++;
                }
                assertTrue(fewest < calls, names[j] + " allocated " + fewest + " bytes in " + calls + " calls on "
                        + threadIds.length + " threads, in the best of " + rounds + " rounds");
            }
        } finally {
            k.tearDown();
        }
    }

    /** This thread and the kernels' workers. */
    private static long[] kernelThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("panama-bn-"))
                .mapToLong(Thread::threadId).toArray();
    }

    private static long allocated(com.sun.management.ThreadMXBean mx, long[] threadIds) {
        long total = 0;
        for (long bytes : mx.getThreadAllocatedBytes(threadIds)) {
            total += bytes;
        }
        return total;
    }
}
