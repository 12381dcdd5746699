package io.github.panamabn.bench;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-sample norms on the shapes people run them on, beside a copy of the same tensor in the same
 * fork (the memory floor: a forward reads x and writes y, one copy, where its rows or channels-first
 * groups are normalized while in cache; channels-last groups read x twice, 1.5 copies; a backward
 * reads x and dy and writes dx in one sweep per row or channels-first group, layer and RMS norm's
 * per-feature gradients taken in the same sweep, 1.5 copies; channels-last groups take a pass for the
 * sums and one for dx, 2.5, the second from cache when the tensor exceeds it, a wave at a time): layer
 * and RMS norm over a transformer's 4096 features for a 512-token batch and a one-token decode step,
 * group norm of a diffusion U-Net block (2x320x64x64, 32 groups) in both layouts, instance norm of
 * 8x64x128x128.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
public class FamilyBenchmark {
    @Param({"layer:512x4096", "layer:1x4096", "rms:512x4096", "rms:1x4096", "group32:NCHW:2x320x64x64",
            "group32:NHWC:2x320x64x64", "instance:NCHW:8x64x128x128"})
    public String kernel;

    @Param({"PANAMA"})
    public Implementation implementation;

    @Param({"1"})
    public int threads;

    private TensorView x;
    private TensorView y;
    private TensorView dy;
    private TensorView dx;
    private float[] xa;
    private float[] ya;
    private Affine affine;
    private Affine weightOnly;
    private Affine grads;
    private SavedStatistics saved;
    private LayerNorm layer;
    private RmsNorm rms;
    private GroupNorm group;
    private int groups;
    private boolean isRms;
    private boolean isLayer;

    @Setup(Level.Trial)
    public void setUp() {
        Copies.compile();
        String[] p = kernel.split(":");
        TensorShape shape;
        int params;
        if (p[0].equals("layer") || p[0].equals("rms")) {
            String[] d = p[1].split("x");
            shape = TensorShape.nc(Long.parseLong(d[0]), Integer.parseInt(d[1]));
            params = shape.channels();
            saved = new SavedStatistics((int) shape.batch());
            isRms = p[0].equals("rms");
            isLayer = !isRms;
        } else {
            shape = KernelBenchmark.parse(p[2], p[1]);
            params = shape.channels();
            groups = p[0].equals("instance") ? shape.channels() : Integer.parseInt(p[0].substring("group".length()));
            saved = new SavedStatistics(GroupNorm.units(shape, groups));
        }
        int n = Math.toIntExact(shape.elementCount());
        SplittableRandom r = new SplittableRandom(1);
        xa = new float[n];
        ya = new float[n];
        float[] dya = new float[n];
        for (int i = 0; i < n; i++) {
            xa[i] = (float) (r.nextGaussian() * 2 + 1);
            dya[i] = (float) r.nextGaussian();
        }
        float[] w = new float[params];
        java.util.Arrays.fill(w, 1.5f);
        float[] b = new float[params];
        affine = isRms ? Affine.weightOnly(w) : Affine.of(w, b);
        weightOnly = Affine.weightOnly(w);
        grads = isRms ? Affine.weightOnly(new float[params]) : Affine.of(new float[params], new float[params]);
        x = TensorView.of(shape, xa);
        y = TensorView.of(shape, ya);
        dy = TensorView.of(shape, dya);
        dx = TensorView.of(shape, new float[n]);
        layer = LayerNorm.of(implementation).withThreads(threads);
        rms = RmsNorm.of(implementation).withThreads(threads);
        group = GroupNorm.of(implementation).withThreads(threads);
        forward();
    }

    @Benchmark
    public TensorView forward() {
        if (isLayer) {
            layer.forward(NormConfig.DEFAULT, 1, x, y, affine, saved);
        } else if (isRms) {
            rms.forward(NormConfig.DEFAULT, 1, x, y, affine, saved);
        } else {
            group.forward(NormConfig.DEFAULT, groups, x, y, affine, saved);
        }
        return y;
    }

    @Benchmark
    public TensorView backward() {
        if (isLayer) {
            layer.backward(NormConfig.DEFAULT, 1, saved, x, dy, dx, weightOnly, grads);
        } else if (isRms) {
            rms.backward(NormConfig.DEFAULT, 1, saved, x, dy, dx, weightOnly, grads);
        } else {
            group.backward(NormConfig.DEFAULT, groups, saved, x, dy, dx, weightOnly, grads);
        }
        return dx;
    }

    /** The floor's unit: one read and one write of the tensor. */
    @Benchmark
    public float[] copy() {
        Copies.arraycopy(xa, ya);
        return ya;
    }

    /** A copy by vector loads and stores, the pace a loop that writes its output can reach ({@link Copies}). */
    @Benchmark
    public float[] vectorCopy() {
        Copies.vectorLoop(xa, ya);
        return ya;
    }
}
