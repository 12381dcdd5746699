package io.github.panamabn.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
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
 * PyTorch's CPU layer norm ({@code at::layer_norm} through DJL) over the last dimension of
 * {@code rows x features}, the shapes of {@code FamilyBenchmark}'s {@code layer:} rows: forward, and
 * backward by the recorded graph (which also accumulates into x's gradient, as a training step does).
 * DJL exposes no group or RMS norm kernel of PyTorch's, so those are measured against the copy alone.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
    "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_interop_threads=1"})
public class PyTorchLayerNormBenchmark {
    @Param({"512x4096", "1x4096"})
    public String shape;

    /** The C allocator this fork runs with, checked in setup (see {@link Allocator}). */
    @Param({"default"})
    public String allocator;

    /** PyTorch's intra-op threads. */
    @Param({"1"})
    public int threads;

    private NDManager manager;
    private NDArray x;
    private NDArray gamma;
    private NDArray beta;
    private NDArray y;
    private NDArray dy;
    private GradientCollector collector;
    private Shape normalized;

    @Setup(Level.Trial)
    public void setUp() {
        Allocator.check(allocator);
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        Engine engine = Engine.getEngine("PyTorch");
        manager = NDManager.newBaseManager(engine.defaultDevice(), "PyTorch");
        String[] d = shape.split("x");
        int rows = Integer.parseInt(d[0]);
        int features = Integer.parseInt(d[1]);
        SplittableRandom r = new SplittableRandom(1);
        float[] xs = new float[rows * features];
        float[] dys = new float[xs.length];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) (r.nextGaussian() * 2 + 1);
            dys[i] = (float) r.nextGaussian();
        }
        float[] w = new float[features];
        java.util.Arrays.fill(w, 1.5f);
        normalized = new Shape(features);
        x = manager.create(xs, new Shape(rows, features));
        gamma = manager.create(w);
        beta = manager.create(new float[features]);
        dy = manager.create(dys, new Shape(rows, features));
        NDArray xGrad = manager.create(xs, new Shape(rows, features));
        xGrad.setRequiresGradient(true);
        gamma.setRequiresGradient(true);
        beta.setRequiresGradient(true);
        collector = engine.newGradientCollector();
        y = LayerNorm.layerNorm(xGrad, normalized, gamma, beta, 1e-5f).singletonOrThrow();
        System.out.println("# layer norm: PyTorch " + engine.getVersion() + " via DJL, " + shape + ", threads "
                + threads + ", allocator " + allocator);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        collector.close();
        manager.close();
    }

    @Benchmark
    public long forward() {
        try (NDList out = LayerNorm.layerNorm(x, normalized, gamma, beta, 1e-5f)) {
            return out.size();
        }
    }

    @Benchmark
    public NDArray backward() {
        JniUtils.backward((PtNDArray) y, (PtNDArray) dy, true, false);
        return y;
    }
}
