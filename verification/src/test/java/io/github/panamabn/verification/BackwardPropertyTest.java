package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Backward of both implementations against the double oracle, and the oracle's own gradients
 * against finite differences of its forward pass.
 */
class BackwardPropertyTest {
    private static final int MAX_ELEMENTS = 30_000;

    /** A backward case: the tensor, plus dy, gamma and options drawn from its seed. */
    private record Setup(float[] x, float[] dy, float[] gamma, boolean training, Activation activation) {
        static Setup of(TensorCase tc) {
            SplittableRandom r = new SplittableRandom(tc.seed() * 31 + 7);
            float[] x = tc.data();
            float[] dy = new float[x.length];
            for (int i = 0; i < dy.length; i++) {
                dy[i] = (float) DataFamily.gaussian(r);
            }
            float[] gamma = null;
            if (r.nextInt(4) != 0) {
                gamma = new float[tc.shape().channels()];
                for (int c = 0; c < gamma.length; c++) {
                    gamma[c] = (float) r.nextDouble(-2, 2);
                }
            }
            return new Setup(x, dy, gamma, r.nextInt(3) != 0, r.nextBoolean() ? Activation.RELU : Activation.IDENTITY);
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void backwardMatchesOracle(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        DataFamily[] families = {DataFamily.GAUSSIAN, DataFamily.OFFSET, DataFamily.SORTED, DataFamily.STEP,
            DataFamily.OUTLIER, DataFamily.SYMMETRIC, DataFamily.CONSTANT, DataFamily.HUGE, DataFamily.TINY};
        Property.forAll("backward-" + impl, 250, TensorCase.generator(MAX_ELEMENTS, families),
                tc -> checkBackward(bn, tc));
    }

    /**
     * Channels-first gradient sums over runs shorter than a group of vectors carry their float
     * accumulators from run to run, into double every {@code Welford.BLOCK} runs: chunks of more runs
     * than a block (100 runs of 49, 150 of 33); and longer runs whose last floats end in a masked vector
     * (70 of 127, 8 of 1100); at every vector width the suite runs.
     */
    @ParameterizedTest
    @EnumSource(Implementation.class)
    void backwardOverBlocksOfShortRunsMatchesOracle(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        TensorShape[] shapes = {TensorShape.nchw(100, 3, 7, 7), TensorShape.ncl(150, 2, 33), TensorShape.ncl(70, 2, 127),
            TensorShape.ncl(8, 3, 1100)};
        DataFamily[] families = {DataFamily.GAUSSIAN, DataFamily.OFFSET, DataFamily.OUTLIER, DataFamily.SORTED};
        long seed = 11;
        for (TensorShape shape : shapes) {
            for (DataFamily family : families) {
                TensorCase tc = new TensorCase(shape, family, seed++, 1);
                try {
                    checkBackward(bn, tc);
                } catch (AssertionError e) {
                    throw new AssertionError(tc + ": " + e.getMessage(), e);
                }
            }
        }
    }

    /** Forward then backward of {@code tc} with its drawn options, held to the oracle's gradients. */
    private static void checkBackward(BatchNorm bn, TensorCase tc) {
        TensorShape shape = tc.shape();
        int channels = shape.channels();
        int off = tc.offset();
        Setup st = Setup.of(tc);
        float[] y = new float[st.x.length];
        float[] mean = new float[channels];
        float[] invStd = new float[channels];
        Calls.forwardTraining(bn, shape, st.x, off, y, off, st.gamma, null, 1e-3f, st.activation, null, mean, invStd);
        float[] dx = new float[st.x.length];
        float[] dgamma = new float[channels];
        float[] dbeta = new float[channels];
        Calls.backward(bn, shape, st.x, off, st.dy, off, y, off, dx, off, st.gamma, mean, invStd, st.training,
                st.activation, dgamma, dbeta);
        float[] mask = st.activation == Activation.RELU ? y : null;
        Oracle.Gradients o = Oracle.backward(shape, st.x, off, st.dy, off, mask, off, st.gamma,
                Oracle.toDouble(mean), Oracle.toDouble(invStd), st.training);
        Tolerance.assertGradients(shape, off, st.x, st.dy, st.gamma, st.training, mask, mean, invStd, o, dx,
                dgamma, dbeta);
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void segmentsAndInPlaceGiveTheSameBits(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("backward-segments-" + impl, 60, TensorCase.generator(MAX_ELEMENTS, DataFamily.GAUSSIAN), tc -> {
            TensorShape shape = tc.shape();
            int channels = shape.channels();
            int off = tc.offset();
            int count = (int) shape.elementCount();
            Setup st = Setup.of(tc);
            float[] y = new float[st.x.length];
            float[] mean = new float[channels];
            float[] invStd = new float[channels];
            Calls.forwardTraining(bn, shape, st.x, off, y, off, st.gamma, null, 1e-5f, st.activation, null, mean, invStd);
            float[] dx = new float[st.x.length];
            Calls.backward(bn, shape, st.x, off, st.dy, off, y, off, dx, off, st.gamma, mean, invStd, st.training,
                    st.activation, null, null);
            float[] inPlace = st.dy.clone();
            Calls.backward(bn, shape, st.x, off, inPlace, off, y, off, inPlace, off, st.gamma, mean, invStd, st.training,
                    st.activation, null, null);
            for (int i = off; i < dx.length; i++) {
                assertEquals(Float.floatToIntBits(dx[i]), Float.floatToIntBits(inPlace[i]), "in place, element " + i);
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment xs = arena.allocate((long) count * Float.BYTES);
                MemorySegment dys = arena.allocate((long) count * Float.BYTES);
                MemorySegment ys = arena.allocate((long) count * Float.BYTES);
                MemorySegment dxs = arena.allocate((long) count * Float.BYTES);
                MemorySegment.copy(st.x, off, xs, ValueLayout.JAVA_FLOAT, 0, count);
                MemorySegment.copy(st.dy, off, dys, ValueLayout.JAVA_FLOAT, 0, count);
                MemorySegment.copy(y, off, ys, ValueLayout.JAVA_FLOAT, 0, count);
                Calls.backward(bn, shape, xs, dys, ys, dxs, st.gamma, mean, invStd, st.training, st.activation, null, null);
                float[] viaSegments = dxs.toArray(ValueLayout.JAVA_FLOAT);
                for (int i = 0; i < count; i++) {
                    assertEquals(Float.floatToIntBits(dx[off + i]), Float.floatToIntBits(viaSegments[i]), "segment element " + i);
                }
            }
        });
    }

    /**
     * The oracle's formulas are the gradient of {@code L = sum(dy * y)}: central differences of its
     * double forward (statistics recomputed from x in training mode) agree with them.
     */
    @Test
    void oracleGradientsMatchFiniteDifferences() {
        Property.forAll("finite-differences", 30, TensorCase.generator(300, DataFamily.GAUSSIAN, DataFamily.OFFSET), tc -> {
            TensorShape shape = tc.shape();
            Setup st = Setup.of(tc);
            int off = tc.offset();
            double eps = 1e-3;
            int channels = shape.channels();
            double[] gamma = new double[channels];
            double[] beta = new double[channels];
            SplittableRandom r = new SplittableRandom(tc.seed());
            for (int c = 0; c < channels; c++) {
                gamma[c] = r.nextDouble(0.5, 2);
                beta[c] = r.nextDouble(-1, 1);
            }
            double[] x = new double[(int) shape.elementCount()];
            for (int i = 0; i < x.length; i++) {
                x[i] = st.x[off + i];
            }
            // Fixed statistics for eval mode: those of the data.
            double[] fixedMean = new double[channels];
            double[] fixedInv = new double[channels];
            Stats stats = Stats.of(shape, x);
            for (int c = 0; c < channels; c++) {
                fixedMean[c] = stats.mean[c];
                fixedInv[c] = 1 / Math.sqrt(stats.var[c] + eps);
            }
            float[] gammaF = new float[channels];
            for (int c = 0; c < channels; c++) {
                gammaF[c] = (float) gamma[c];
                gamma[c] = gammaF[c];
            }
            float[] xF = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                xF[i] = (float) x[i];
            }
            float[] dyF = java.util.Arrays.copyOfRange(st.dy, off, off + x.length);
            Oracle.Gradients o = Oracle.backward(shape, xF, 0, dyF, 0, null, 0, gammaF,
                    st.training ? stats.mean : fixedMean,
                    st.training ? invStd(stats.var, eps) : fixedInv, st.training);
            double h = 1e-4;
            for (int trial = 0; trial < 6; trial++) {
                int i = r.nextInt(x.length);
                double saved = x[i];
                x[i] = saved + h;
                double plus = loss(shape, x, dyF, gamma, beta, eps, st.training, fixedMean, fixedInv);
                x[i] = saved - h;
                double minus = loss(shape, x, dyF, gamma, beta, eps, st.training, fixedMean, fixedInv);
                x[i] = saved;
                double fd = (plus - minus) / (2 * h);
                assertEquals(fd, o.dx()[i], 1e-5 * (1 + Math.abs(fd)) * scaleOf(stats, shape, i, eps), "dx[" + i + "]");
            }
            for (int c = 0; c < channels; c++) {
                double saved = gamma[c];
                gamma[c] = saved + h;
                double plus = loss(shape, x, dyF, gamma, beta, eps, st.training, fixedMean, fixedInv);
                gamma[c] = saved - h;
                double minus = loss(shape, x, dyF, gamma, beta, eps, st.training, fixedMean, fixedInv);
                gamma[c] = saved;
                assertEquals((plus - minus) / (2 * h), o.dgamma()[c], 1e-5 * (1 + Math.abs(o.dgamma()[c])), "dgamma");
                saved = beta[c];
                beta[c] = saved + h;
                plus = loss(shape, x, dyF, gamma, beta, eps, st.training, fixedMean, fixedInv);
                beta[c] = saved - h;
                minus = loss(shape, x, dyF, gamma, beta, eps, st.training, fixedMean, fixedInv);
                beta[c] = saved;
                assertEquals((plus - minus) / (2 * h), o.dbeta()[c], 1e-5 * (1 + Math.abs(o.dbeta()[c])), "dbeta");
            }
        });
    }

    /** Mean and biased variance per channel in double. */
    private record Stats(double[] mean, double[] var) {
        static Stats of(TensorShape shape, double[] x) {
            int channels = shape.channels();
            double[] mean = new double[channels];
            double[] var = new double[channels];
            double m = shape.perChannelCount();
            for (int c = 0; c < channels; c++) {
                for (long n = 0; n < shape.batch(); n++) {
                    for (long s = 0; s < shape.spatialSize(); s++) {
                        mean[c] += x[(int) shape.index(n, c, s)] / m;
                    }
                }
                for (long n = 0; n < shape.batch(); n++) {
                    for (long s = 0; s < shape.spatialSize(); s++) {
                        double d = x[(int) shape.index(n, c, s)] - mean[c];
                        var[c] += d * d / m;
                    }
                }
            }
            return new Stats(mean, var);
        }
    }

    private static double[] invStd(double[] var, double eps) {
        double[] r = new double[var.length];
        for (int c = 0; c < r.length; c++) {
            r[c] = 1 / Math.sqrt(var[c] + eps);
        }
        return r;
    }

    /** The finite-difference step's relative error grows with 1/sigma of the channel (steep normalization). */
    private static double scaleOf(Stats s, TensorShape shape, int i, double eps) {
        int c = (int) (shape.isChannelInnermost() ? i % shape.channels() : i / shape.spatialSize() % shape.channels());
        return Math.max(1, 1 / (s.var[c] + eps));
    }

    private static double loss(TensorShape shape, double[] x, float[] dy, double[] gamma, double[] beta, double eps,
                               boolean training, double[] fixedMean, double[] fixedInv) {
        Stats s = Stats.of(shape, x);
        double total = 0;
        for (int c = 0; c < shape.channels(); c++) {
            double mean = training ? s.mean[c] : fixedMean[c];
            double inv = training ? 1 / Math.sqrt(s.var[c] + eps) : fixedInv[c];
            for (long n = 0; n < shape.batch(); n++) {
                for (long sp = 0; sp < shape.spatialSize(); sp++) {
                    int i = (int) shape.index(n, c, sp);
                    total += dy[i] * ((x[i] - mean) * inv * gamma[c] + beta[c]);
                }
            }
        }
        return total;
    }
}
