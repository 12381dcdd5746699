package io.github.panamabn.bench;

import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.verification.Pollution;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Panama kernels in a fork that first ran a service's mix of calls ({@link Pollution}: every kernel,
 * layout, storage, activation and thread count), beside the same kernels in a clean fork. What C2
 * compiles depends on what the JVM ran before; the kernels must be as fast in a long-running service as
 * in a fresh benchmark fork. The report gives polluted / clean per configuration.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
public class PollutedKernelBenchmark {
    @Param({"false", "true"})
    public boolean polluted;

    @Param({"NCHW", "NHWC"})
    public String layout;

    @Param({"ARRAY", "NATIVE"})
    public String storage;

    @Param({"32x64x56x56", "256x1024", "7x61x13x13"})
    public String shape;

    /** How long the mix runs before the trial, when polluted. */
    @Param({"20"})
    public int pollutionSeconds;

    private final KernelBenchmark kernels = new KernelBenchmark();

    @Setup(Level.Trial)
    public void setUp() {
        if (polluted) {
            try (Pollution mix = new Pollution(Pollution.serviceShapes(), Pollution.serviceKernels())) {
                mix.run(Duration.ofSeconds(pollutionSeconds), 1);
            }
        }
        kernels.implementation = Implementation.PANAMA;
        kernels.layout = layout;
        kernels.storage = storage;
        kernels.shape = shape;
        kernels.threads = 1;
        kernels.setUp();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        kernels.tearDown();
    }

    @Benchmark
    public ChannelStatistics statistics() {
        return kernels.statistics();
    }

    @Benchmark
    public ChannelStatistics forwardTraining() {
        return kernels.forwardTraining();
    }

    @Benchmark
    public float[] forwardInference() {
        return kernels.forwardInference();
    }

    @Benchmark
    public float[] backward() {
        return kernels.backward();
    }
}
