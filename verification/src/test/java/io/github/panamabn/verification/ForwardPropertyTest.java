package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Forward training and inference of both implementations against the double oracle. */
class ForwardPropertyTest {
    private static final int MAX_ELEMENTS = 40_000;
    private static final float[] EPSILONS = {1e-5f, 1e-3f, 0.1f};

    /** Affine parameters and options drawn from a case's seed, so a printed case rebuilds them. */
    private record Options(float[] gamma, float[] beta, float eps, Activation activation) {
        static Options of(TensorCase tc) {
            SplittableRandom r = new SplittableRandom(tc.seed() ^ 0x5DEECE66DL);
            int channels = tc.shape().channels();
            boolean affine = r.nextInt(4) != 0;
            float[] gamma = affine ? new float[channels] : null;
            float[] beta = affine ? new float[channels] : null;
            for (int c = 0; affine && c < channels; c++) {
                gamma[c] = (float) r.nextDouble(-2, 2);
                beta[c] = (float) r.nextDouble(-2, 2);
            }
            return new Options(gamma, beta, EPSILONS[r.nextInt(EPSILONS.length)],
                    r.nextBoolean() ? Activation.RELU : Activation.IDENTITY);
        }

        double gamma(int c) {
            return gamma == null ? 1 : gamma[c];
        }

        double beta(int c) {
            return beta == null ? 0 : beta[c];
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void trainingForwardMatchesOracle(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("training-" + impl, 300, TensorCase.generator(MAX_ELEMENTS, DataFamily.values()), tc -> {
            TensorShape shape = tc.shape();
            Options opt = Options.of(tc);
            float[] x = tc.data();
            float[] y = new float[x.length];
            float[] saveMean = new float[shape.channels()];
            float[] saveInvStd = new float[shape.channels()];
            ChannelStatistics stats = new ChannelStatistics(shape.channels());
            Calls.forwardTraining(bn, shape, x, tc.offset(), y, tc.offset(), opt.gamma, opt.beta, opt.eps, opt.activation,
                    stats, saveMean, saveInvStd);
            Oracle.Statistics o = Oracle.statistics(shape, x, tc.offset());
            Tolerance.assertStatistics(o, stats, "training statistics");
            for (int c = 0; c < shape.channels(); c++) {
                assertEquals((float) stats.mean(c), saveMean[c], "saveMean[" + c + "]");
                assertEquals((float) (1 / Math.sqrt(stats.variance(c) + opt.eps)), saveInvStd[c], "saveInvStd[" + c + "]");
            }
            Tolerance.assertNormalized(shape, tc.offset(), x, y, o.mean(), o.variance(), opt.gamma, opt.beta, opt.eps,
                    opt.activation == Activation.RELU, o, "training");
        });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void inferenceForwardMatchesOracle(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("inference-" + impl, 300, TensorCase.generator(MAX_ELEMENTS, DataFamily.values()), tc -> {
            TensorShape shape = tc.shape();
            Options opt = Options.of(tc);
            SplittableRandom r = new SplittableRandom(tc.seed());
            float[] mean = new float[shape.channels()];
            float[] var = new float[shape.channels()];
            for (int c = 0; c < shape.channels(); c++) {
                mean[c] = (float) r.nextDouble(-5, 5);
                var[c] = r.nextInt(8) == 0 ? 0 : (float) Math.pow(10, r.nextDouble(-3, 3));
            }
            float[] x = tc.data();
            float[] y = new float[x.length];
            Calls.forwardInference(bn, shape, x, tc.offset(), y, tc.offset(), mean, var, opt.gamma, opt.beta, opt.eps,
                    opt.activation);
            Tolerance.assertNormalized(shape, tc.offset(), x, y, Oracle.toDouble(mean), Oracle.toDouble(var), opt.gamma,
                    opt.beta, opt.eps, opt.activation == Activation.RELU, null, "inference");
        });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void inferenceWithTheBatchStatisticsEqualsTrainingForward(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("inference-equals-training-" + impl, 150,
                TensorCase.generator(MAX_ELEMENTS, DataFamily.GAUSSIAN, DataFamily.SYMMETRIC, DataFamily.CONSTANT,
                        DataFamily.STEP), tc -> {
                    TensorShape shape = tc.shape();
                    Options opt = Options.of(tc);
                    float[] x = tc.data();
                    float[] trained = new float[x.length];
                    float[] inferred = new float[x.length];
                    float[] mean = new float[shape.channels()];
                    float[] var = new float[shape.channels()];
                    ChannelStatistics stats = new ChannelStatistics(shape.channels());
                    Calls.forwardTraining(bn, shape, x, tc.offset(), trained, tc.offset(), opt.gamma, opt.beta, opt.eps,
                            opt.activation, stats, mean, null);
                    for (int c = 0; c < var.length; c++) {
                        var[c] = (float) stats.variance(c);
                    }
                    Calls.forwardInference(bn, shape, x, tc.offset(), inferred, tc.offset(), mean, var, opt.gamma, opt.beta,
                            opt.eps, opt.activation);
                    // What differs: inference gets the statistics rounded to float. The variance's rounding
                    // moves scale by up to 2u relative; the mean's (training keeps the part below float
                    // precision in its shift) moves the output by up to u |mean scale|; and each side's
                    // multiply-add rounds once.
                    for (int i = tc.offset(); i < x.length; i++) {
                        int c = channelOf(shape, i - tc.offset());
                        double scale = opt.gamma(c) / Math.sqrt(var[c] + opt.eps);
                        double allowed = 4 * Tolerance.U * (Math.abs(trained[i]) + Math.abs(trained[i] - opt.beta(c)))
                                + Tolerance.U * Math.abs(mean[c] * scale) + Float.MIN_VALUE;
                        assertEquals(trained[i], inferred[i], allowed, "element " + (i - tc.offset()));
                    }
                });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void inPlaceAndSegmentsGiveTheSameBitsAsOutOfPlaceArrays(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("in-place-" + impl, 80, TensorCase.generator(MAX_ELEMENTS, DataFamily.values()), tc -> {
            TensorShape shape = tc.shape();
            Options opt = Options.of(tc);
            float[] x = tc.data();
            float[] y = new float[x.length];
            Calls.forwardTraining(bn, shape, x, tc.offset(), y, tc.offset(), opt.gamma, opt.beta, opt.eps, opt.activation,
                    null, null, null);
            float[] inPlace = x.clone();
            Calls.forwardTraining(bn, shape, inPlace, tc.offset(), inPlace, tc.offset(), opt.gamma, opt.beta, opt.eps,
                    opt.activation, null, null, null);
            for (int i = tc.offset(); i < x.length; i++) {
                assertEquals(Float.floatToIntBits(y[i]), Float.floatToIntBits(inPlace[i]), "in place, element " + i);
            }
            int count = (int) shape.elementCount();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate((long) count * Float.BYTES);
                MemorySegment out = arena.allocate((long) count * Float.BYTES);
                MemorySegment.copy(x, tc.offset(), seg, ValueLayout.JAVA_FLOAT, 0, count);
                Calls.forwardTraining(bn, shape, seg, out, opt.gamma, opt.beta, opt.eps, opt.activation, null, null, null);
                float[] viaSegment = out.toArray(ValueLayout.JAVA_FLOAT);
                float[] expected = java.util.Arrays.copyOfRange(y, tc.offset(), x.length);
                assertArrayEquals(expected, viaSegment, "native segments");
            }
        });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void constantChannelsComeOutAsExactlyBeta(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("constant-beta-" + impl, 100, TensorCase.generator(MAX_ELEMENTS, DataFamily.CONSTANT), tc -> {
            TensorShape shape = tc.shape();
            Options opt = Options.of(tc);
            float[] x = tc.data();
            float[] y = new float[x.length];
            Calls.forwardTraining(bn, shape, x, tc.offset(), y, tc.offset(), opt.gamma, opt.beta, opt.eps,
                    Activation.IDENTITY, null, null, null);
            for (long n = 0; n < shape.batch(); n++) {
                for (int c = 0; c < shape.channels(); c++) {
                    for (long s = 0; s < shape.spatialSize(); s++) {
                        assertEquals((float) opt.beta(c), y[tc.offset() + (int) shape.index(n, c, s)]);
                    }
                }
            }
        });
    }

    /**
     * Scaling x by 2^k and eps by 4^k scales the mean by 2^k, the variance and eps by 4^k and the inverse
     * standard deviation by 2^-k, all exactly, so every output bit must stay. (Not for HUGE data, whose
     * scaled squares overflow into the double path, nor SUBNORMAL, which scaling rounds.)
     */
    @ParameterizedTest
    @EnumSource(Implementation.class)
    void scalingXByTwoToTheKAndEpsByFourToTheKChangesNoBit(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        DataFamily[] families = java.util.Arrays.stream(DataFamily.values())
                .filter(f -> f != DataFamily.HUGE && f != DataFamily.SUBNORMAL).toArray(DataFamily[]::new);
        Property.forAll("scaling-" + impl, 120, TensorCase.generator(MAX_ELEMENTS, families), tc -> {
            TensorShape shape = tc.shape();
            Options opt = Options.of(tc);
            int k = new SplittableRandom(tc.seed() + 3).nextInt(-8, 9);
            float[] x = tc.data();
            float[] scaled = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                scaled[i] = Math.scalb(x[i], k);
            }
            float[] y = new float[x.length];
            float[] ys = new float[x.length];
            Calls.forwardTraining(bn, shape, x, tc.offset(), y, tc.offset(), opt.gamma, opt.beta, opt.eps, opt.activation,
                    null, null, null);
            Calls.forwardTraining(bn, shape, scaled, tc.offset(), ys, tc.offset(), opt.gamma, opt.beta,
                    Math.scalb(opt.eps, 2 * k), opt.activation, null, null, null);
            for (int i = tc.offset(); i < x.length; i++) {
                assertEquals(Float.floatToIntBits(y[i]), Float.floatToIntBits(ys[i]), "k = " + k + ", element " + i);
            }
        });
    }

    private static int channelOf(TensorShape shape, long index) {
        return (int) (shape.isChannelInnermost()
                ? index % shape.channels()
                : index / shape.spatialSize() % shape.channels());
    }
}
