package io.github.panamabn.bench;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * Every kernel, SCALAR against PANAMA, per layout, storage ({@code float[]} or native segment) and
 * shape ({@code NxCxHxW} strings, real layers and a tail-hostile one). Outputs are preallocated; setup
 * is per trial. {@link MemoryBandwidthBenchmark} measures the machine's limit on the same shapes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
public class KernelBenchmark {
    /**
     * The shapes of the suite: ResNet-50 layers (in and beyond L3), BatchNorm1d, a tail-hostile one, and
     * one small enough to stay in L2 (200 KB), where kernels run at the speed of their arithmetic.
     */
    public static final String[] SHAPES = {
        "32x64x56x56", "64x64x56x56", "32x256x14x14", "32x2048x7x7", "256x1024", "7x61x13x13", "8x32x14x14"};

    @Param({"SCALAR", "PANAMA"})
    public Implementation implementation;

    @Param({"NCHW", "NHWC"})
    public String layout;

    @Param({"ARRAY", "NATIVE"})
    public String storage;

    @Param({"32x64x56x56", "64x64x56x56", "32x256x14x14", "32x2048x7x7", "256x1024", "7x61x13x13", "8x32x14x14"})
    public String shape;

    /** Threads per call ({@link BatchNorm#withThreads}); results are the same bits for any count. */
    @Param({"1", "2"})
    public int threads;

    BatchNorm bn;
    TensorShape tensor;
    float[] x;
    float[] y;
    float[] dy;
    float[] dx;
    MemorySegment xs;
    MemorySegment ys;
    MemorySegment dys;
    MemorySegment dxs;
    float[] gamma;
    float[] beta;
    float[] mean;
    float[] var;
    float[] saveMean;
    float[] saveInvStd;
    float[] dgamma;
    float[] dbeta;
    ChannelStatistics stats;
    // What the calls take: one view per tensor and the parameter objects, made once per trial.
    TensorView xv;
    TensorView yv;
    TensorView dyv;
    TensorView dxv;
    Affine affine;
    RunningStatistics running;
    SavedStatistics saved;
    Affine affineGrad;
    private Arena arena;

    /** Parses {@code NxCxHxW...} into a shape of the given layout name (NCHW or NHWC). */
    public static TensorShape parse(String shape, String layout) {
        String[] d = shape.split("x");
        long[] spatial = new long[d.length - 2];
        for (int i = 0; i < spatial.length; i++) {
            spatial[i] = Long.parseLong(d[i + 2]);
        }
        Layout l = layout.equals("NHWC") ? Layout.CHANNELS_LAST : Layout.CHANNELS_FIRST;
        return TensorShape.of(l, Long.parseLong(d[0]), Integer.parseInt(d[1]), spatial);
    }

    @Setup(Level.Trial)
    public void setUp() {
        bn = BatchNorm.of(implementation).withThreads(threads);
        tensor = parse(shape, layout);
        int channels = tensor.channels();
        int n = Math.toIntExact(tensor.elementCount());
        x = new float[n];
        y = new float[n];
        dy = new float[n];
        dx = new float[n];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextDouble() * 4 - 1);
            dy[i] = (float) (r.nextDouble() - 0.5);
        }
        gamma = new float[channels];
        beta = new float[channels];
        mean = new float[channels];
        var = new float[channels];
        saveMean = new float[channels];
        saveInvStd = new float[channels];
        dgamma = new float[channels];
        dbeta = new float[channels];
        java.util.Arrays.fill(gamma, 1.5f);
        java.util.Arrays.fill(var, 2f);
        java.util.Arrays.fill(saveInvStd, 0.7f);
        stats = new ChannelStatistics(channels);
        if (storage.equals("NATIVE")) {
            arena = Arena.ofShared();
            xs = copy(x);
            ys = arena.allocate((long) n * Float.BYTES, 64);
            dys = copy(dy);
            dxs = arena.allocate((long) n * Float.BYTES, 64);
            xv = TensorView.of(tensor, xs);
            yv = TensorView.of(tensor, ys);
            dyv = TensorView.of(tensor, dys);
            dxv = TensorView.of(tensor, dxs);
        } else {
            xv = TensorView.of(tensor, x);
            yv = TensorView.of(tensor, y);
            dyv = TensorView.of(tensor, dy);
            dxv = TensorView.of(tensor, dx);
        }
        affine = Affine.of(gamma, beta);
        running = RunningStatistics.of(mean, var);
        saved = SavedStatistics.of(saveMean, saveInvStd);
        affineGrad = Affine.of(dgamma, dbeta);
        System.out.println("# kernels: " + bn + ", " + tensor + ", " + storage);
    }

    private MemorySegment copy(float[] a) {
        MemorySegment s = arena.allocate((long) a.length * Float.BYTES, 64);
        MemorySegment.copy(a, 0, s, ValueLayout.JAVA_FLOAT, 0, a.length);
        return s;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (arena != null) {
            arena.close();
            arena = null;
        }
    }

    private boolean nativeStorage() {
        return xs != null;
    }

    @Benchmark
    public ChannelStatistics statistics() {
        bn.statistics(xv, stats);
        return stats;
    }

    @Benchmark
    public ChannelStatistics forwardTraining() {
        bn.forwardTraining(NormConfig.DEFAULT, xv, yv, affine, saved, stats);
        return stats;
    }

    @Benchmark
    public float[] forwardInference() {
        bn.forwardInference(NormConfig.DEFAULT, running, xv, yv, affine);
        return saveMean;
    }

    /** Backward in training mode (batch statistics): the two sums, then dx, with dgamma and dbeta. */
    @Benchmark
    public float[] backward() {
        bn.backward(NormConfig.DEFAULT, GradientMode.BATCH_STATISTICS, saved, xv, dyv, dxv, affine, affineGrad);
        return dgamma;
    }

    /** The output of the last forward, as floats (for tests comparing implementations). */
    float[] output() {
        return nativeStorage() ? ys.toArray(ValueLayout.JAVA_FLOAT) : y.clone();
    }

    /** The input gradient of the last backward, as floats. */
    float[] inputGradient() {
        return nativeStorage() ? dxs.toArray(ValueLayout.JAVA_FLOAT) : dx.clone();
    }
}
