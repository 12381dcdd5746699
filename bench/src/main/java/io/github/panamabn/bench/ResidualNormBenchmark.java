package io.github.panamabn.bench;

import io.github.panamabn.kernels.Affine;
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
 * A transformer block's residual add and norm: fused ({@code forwardResidual}: x and residual read, h
 * and y written, two copies' traffic) against the add and the norm as two calls (an add loop, then the
 * norm reading h again: three copies' traffic), beside a copy of the tensor, in one fork.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
public class ResidualNormBenchmark {
    @Param({"layer:512x4096", "layer:1x4096", "rms:512x4096", "rms:1x4096"})
    public String kernel;

    @Param({"PANAMA"})
    public Implementation implementation;

    @Param({"1"})
    public int threads;

    private float[] xa;
    private float[] ra;
    private float[] ha;
    private TensorView x;
    private TensorView residual;
    private TensorView h;
    private TensorView y;
    private Affine affine;
    private SavedStatistics saved;
    private LayerNorm layer;
    private RmsNorm rms;
    private boolean isRms;

    @Setup(Level.Trial)
    public void setUp() {
        Copies.compile();
        String[] p = kernel.split(":");
        String[] d = p[1].split("x");
        TensorShape shape = TensorShape.nc(Long.parseLong(d[0]), Integer.parseInt(d[1]));
        isRms = p[0].equals("rms");
        int n = Math.toIntExact(shape.elementCount());
        SplittableRandom r = new SplittableRandom(1);
        xa = new float[n];
        ra = new float[n];
        ha = new float[n];
        for (int i = 0; i < n; i++) {
            xa[i] = (float) r.nextGaussian();
            ra[i] = (float) (r.nextGaussian() * 2 + 1);
        }
        float[] w = new float[shape.channels()];
        java.util.Arrays.fill(w, 1.5f);
        affine = isRms ? Affine.weightOnly(w) : Affine.of(w, new float[w.length]);
        x = TensorView.of(shape, xa);
        residual = TensorView.of(shape, ra);
        h = TensorView.of(shape, ha);
        y = TensorView.of(shape, new float[n]);
        saved = new SavedStatistics((int) shape.batch());
        layer = LayerNorm.of(implementation).withThreads(threads);
        rms = RmsNorm.of(implementation).withThreads(threads);
    }

    @Benchmark
    public TensorView fused() {
        if (isRms) {
            rms.forwardResidual(NormConfig.DEFAULT, 1, x, residual, h, y, affine, saved);
        } else {
            layer.forwardResidual(NormConfig.DEFAULT, 1, x, residual, h, y, affine, saved);
        }
        return y;
    }

    @Benchmark
    public TensorView separate() {
        for (int i = 0; i < ha.length; i++) {
            ha[i] = xa[i] + ra[i];   // C2 vectorizes this loop
        }
        if (isRms) {
            rms.forward(NormConfig.DEFAULT, 1, h, y, affine, saved);
        } else {
            layer.forward(NormConfig.DEFAULT, 1, h, y, affine, saved);
        }
        return y;
    }

    /** The floor's unit: one read and one write of the tensor. */
    @Benchmark
    public float[] copy() {
        Copies.arraycopy(xa, ha);
        return ha;
    }
}
