package io.github.panamabn.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.github.panamabn.bench.Allocator;
import io.github.panamabn.bench.KernelBenchmark;
import io.github.panamabn.kernels.TensorShape;
import java.util.SplittableRandom;
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
 * PyTorch's own CPU batch norm (through DJL, offline natives from Maven Central) on the same shapes,
 * layouts, data and thread counts as {@link KernelBenchmark}. Channels-last data is handed to PyTorch as
 * an {@code (N, H*W, 1, C)} tensor permuted to {@code (N, C, H*W, 1)}: a channels-last view of the same
 * memory, so PyTorch runs its channels-last kernels rather than a transposed copy.
 *
 * <p>Backward runs the recorded graph's {@code native_batch_norm_backward} again each call (the graph
 * is kept), which also accumulates into x's gradient: one extra pass PyTorch's training step does too.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_interop_threads=1"})
public class PyTorchBenchmark {
    @Param({"NCHW", "NHWC"})
    public String layout;

    @Param({"32x64x56x56", "64x64x56x56", "32x256x14x14", "32x2048x7x7", "256x1024", "7x61x13x13", "8x32x14x14"})
    public String shape;

    /**
     * The C allocator this fork runs with ({@code jemalloc}, {@code tcmalloc}, {@code glibc-keep} or
     * {@code default}): set by the suite's launcher script, checked in setup.
     */
    @Param({"default"})
    public String allocator;

    /** PyTorch's intra-op threads, set before the engine starts in this fork. */
    @Param({"1", "2"})
    public int threads;

    private NDManager manager;
    private NDArray x;
    private NDArray xGrad;
    private NDArray gamma;
    private NDArray beta;
    private NDArray runningMean;
    private NDArray runningVar;
    private NDArray y;
    private NDArray dy;
    private GradientCollector collector;

    /** The peer's name and version, for the report. */
    public static String version() {
        return "PyTorch " + Engine.getEngine("PyTorch").getVersion() + " through DJL";
    }

    /** The tensor in PyTorch's view of the layout: NCHW as is, NHWC as a permuted channels-last view. */
    static NDArray tensor(NDManager manager, float[] data, TensorShape s) {
        long n = s.batch();
        long c = s.channels();
        long hw = s.spatialSize();
        if (s.spatialRank() == 0) {
            return manager.create(data, new Shape(n, c));
        }
        if (!s.isChannelInnermost()) {
            return manager.create(data, new Shape(n, c, hw, 1));
        }
        return manager.create(data, new Shape(n, hw, 1, c)).transpose(0, 3, 1, 2);
    }

    /** The same data as {@link KernelBenchmark}'s setup. */
    static float[][] data(TensorShape s) {
        int n = Math.toIntExact(s.elementCount());
        float[] x = new float[n];
        float[] dy = new float[n];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 4 - 1);
            dy[i] = (float) (r.nextDouble() - 0.5);
        }
        return new float[][] {x, dy};
    }

    @Setup(Level.Trial)
    public void setUp() {
        Allocator.check(allocator);
        // Each JMH fork runs one parameter set, and DJL reads this when the engine starts.
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        Engine engine = Engine.getEngine("PyTorch");
        manager = NDManager.newBaseManager(engine.defaultDevice(), "PyTorch");
        TensorShape s = KernelBenchmark.parse(shape, layout);
        float[][] d = data(s);
        x = tensor(manager, d[0], s);
        int channels = s.channels();
        float[] ones = new float[channels];
        java.util.Arrays.fill(ones, 1.5f);
        gamma = manager.create(ones);
        beta = manager.create(new float[channels]);
        runningMean = manager.zeros(new Shape(channels));
        runningVar = manager.ones(new Shape(channels));
        dy = tensor(manager, d[1], s);
        xGrad = tensor(manager, d[0], s);
        xGrad.setRequiresGradient(true);
        collector = engine.newGradientCollector();
        y = BatchNorm.batchNorm(xGrad, runningMean, runningVar, gamma, beta, 1, 0.1f, 1e-5f, true).singletonOrThrow();
        System.out.println("# kernels: PyTorch " + engine.getVersion() + " via DJL, " + s + ", threads "
                + System.getProperty("ai.djl.pytorch.num_threads") + ", allocator " + allocator);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collector.close();
        manager.close();
    }

    @Benchmark
    public long forwardTraining() {
        try (NDList out = BatchNorm.batchNorm(x, runningMean, runningVar, gamma, beta, 1, 0.1f, 1e-5f, true)) {
            return out.size();
        }
    }

    @Benchmark
    public long forwardInference() {
        try (NDList out = BatchNorm.batchNorm(x, runningMean, runningVar, gamma, beta, 1, 0.1f, 1e-5f, false)) {
            return out.size();
        }
    }

    @Benchmark
    public NDArray backward() {
        JniUtils.backward((PtNDArray) y, (PtNDArray) dy, true, false);
        return y;
    }
}
