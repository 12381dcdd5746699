package io.github.panamabn.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.BatchNorm;
import io.github.panamabn.bench.Allocator;
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
 * PyTorch's CPU instance norm forward, the way ATen runs it: {@code at::instance_norm} views the
 * input as {@code (1, N*C, spatial...)} and calls the training batch norm on it, so DJL's batch norm
 * on that view is PyTorch's instance norm (DJL exposes no instance or group norm of its own). A
 * channels-last input is made contiguous first, as PyTorch does (pytorch#111824): here its reshape of
 * the channels-last tensor's NCHW view copies. The {@code instance:} rows of {@code FamilyBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_interop_threads=1"})
public class PyTorchInstanceNormBenchmark {
    @Param({"instance:NCHW:8x64x128x128", "instance:NHWC:8x64x128x128"})
    public String kernel;

    /** The C allocator this fork runs with, checked in setup (see {@link Allocator}). */
    @Param({"default"})
    public String allocator;

    /** PyTorch's intra-op threads. */
    @Param({"1"})
    public int threads;

    private NDManager manager;
    private NDArray x;
    private NDArray runningMean;
    private NDArray runningVar;
    private NDArray gamma;
    private NDArray beta;
    private Shape instances;

    @Setup(Level.Trial)
    public void setUp() {
        Allocator.check(allocator);
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        Engine engine = Engine.getEngine("PyTorch");
        manager = NDManager.newBaseManager(engine.defaultDevice(), "PyTorch");
        String[] p = kernel.split(":");
        String[] d = p[2].split("x");
        long n = Long.parseLong(d[0]);
        long c = Long.parseLong(d[1]);
        long h = Long.parseLong(d[2]);
        long w = Long.parseLong(d[3]);
        SplittableRandom r = new SplittableRandom(1);
        float[] xs = new float[Math.toIntExact(n * c * h * w)];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (r.nextGaussian() * 2 + 1);
        }
        // as our benchmark: weight 1.5 and bias 0 per channel, repeated per sample as instance_norm does
        float[] g = new float[Math.toIntExact(n * c)];
        java.util.Arrays.fill(g, 1.5f);
        x = p[1].equals("NHWC") ? manager.create(xs, new Shape(n, h, w, c)).transpose(0, 3, 1, 2)
                : manager.create(xs, new Shape(n, c, h, w));
        instances = new Shape(1, n * c, h, w);
        runningMean = manager.zeros(new Shape(n * c));
        runningVar = manager.ones(new Shape(n * c));
        gamma = manager.create(g);
        beta = manager.zeros(new Shape(n * c));
        checkAgainstOurs(p[1].equals("NHWC"), n, c, h, w, xs);
        System.out.println("# instance norm: PyTorch " + engine.getVersion() + " via DJL, " + kernel + ", threads "
                + threads + ", allocator " + allocator);
    }

    /** The bench measures what it says: PyTorch's output is our instance norm's within float rounding. */
    private void checkAgainstOurs(boolean channelsLast, long n, long c, long h, long w, float[] xs) {
        float[] torch;
        try (NDArray view = x.reshape(instances);
             NDList out = BatchNorm.batchNorm(view, runningMean, runningVar, gamma, beta, 1, 0.1f, 1e-5f, true)) {
            NDArray y = out.singletonOrThrow().reshape(n, c, h, w);
            torch = (channelsLast ? y.transpose(0, 2, 3, 1) : y).toFloatArray();
        }
        io.github.panamabn.kernels.TensorShape shape = io.github.panamabn.kernels.TensorShape.of(channelsLast
                ? io.github.panamabn.kernels.Layout.CHANNELS_LAST : io.github.panamabn.kernels.Layout.CHANNELS_FIRST,
                n, (int) c, h, w);
        float[] ours = new float[xs.length];
        float[] weight = new float[(int) c];
        java.util.Arrays.fill(weight, 1.5f);
        io.github.panamabn.kernels.GroupNorm.get().forward(io.github.panamabn.kernels.NormConfig.DEFAULT, (int) c,
                io.github.panamabn.kernels.TensorView.of(shape, xs), io.github.panamabn.kernels.TensorView.of(shape, ours),
                io.github.panamabn.kernels.Affine.of(weight, new float[(int) c]));
        double worst = 0;
        for (int i = 0; i < ours.length; i++) {
            worst = Math.max(worst, Math.abs(ours[i] - torch[i]));
        }
        if (!(worst < 1e-3)) {
            throw new IllegalStateException(kernel + ": PyTorch's instance norm differs from ours by " + worst);
        }
        System.out.println("# PyTorch's " + kernel + " output is ours within " + worst);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
    }

    @Benchmark
    public long forward() {
        try (NDArray view = x.reshape(instances);
             NDList out = BatchNorm.batchNorm(view, runningMean, runningVar, gamma, beta, 1, 0.1f, 1e-5f, true)) {
            return out.size();
        }
    }
}
