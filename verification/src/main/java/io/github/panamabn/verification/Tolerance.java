package io.github.panamabn.verification;

import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.internal.Welford;

/**
 * Error bounds the kernels are held to, derived from how they compute, not tuned to pass.
 *
 * <p>Statistics: every float update works on {@code x - pivot} with the pivot inside the data, so
 * each rounding error is at most {@code u * R} where {@code u = 2^-24} and {@code R} is the channel's
 * largest deviation from its mean; and no float chain is longer than {@link Welford#BLOCK} before it
 * is merged in double. Rounding errors along a chain of length B grow like {@code sqrt(B)}, so
 * <pre>
 *   |mean - mean*| &lt;= 2 sqrt(B) u R                |var - var*| &lt;= 2 sqrt(B) u R sigma
 * </pre>
 * With B = 64 the factor is 16; the worst seen over thousands of random adversarial channels is 5.
 * No absolute term: a channel whose float products could underflow (variance below 2^-100) is
 * recomputed in double, and a constant channel is exact, so tiny and subnormal data are held to the
 * same relative bound as any other. (An absolute floor of one subnormal would let a variance of 0
 * pass for data around 1e-30, whose true variance is 1e-60.)
 * {@code R / sigma} is the condition of the problem: it is large only for outliers, whereas a large
 * mean offset no longer enters. A naive float {@code E[x^2] - E[x]^2}, a float Welford over a whole
 * channel, or a single lost element break these bounds; {@code ToleranceCanFailTest} shows it.
 *
 * <p>Normalization {@code y = fma(x - hi, scale, beta - lo * scale)} in float, with the mean split into
 * its float part hi and the rest lo (given statistics are floats already, lo = 0): the roundings of
 * the subtraction, of scale, of the shift and of the FMA, plus the statistics' errors carried through,
 * per element; no term grows with the mean's offset:
 * <pre>
 *   |y - y*| &lt;= 2u (2 |(x - mean) scale| + |y*|) + |scale| tolMean
 *               + |y* - beta| tolVar / (2 (var + eps)) + MIN
 * </pre>
 */
public final class Tolerance {
    /** Unit roundoff of float. */
    public static final double U = Math.ulp(1.0f) / 2;
    /** Growth factor of rounding error along one float chain of {@link Welford#BLOCK} updates. */
    public static final double CHAIN = 2 * Math.sqrt(Welford.BLOCK);

    private Tolerance() {
    }

    /** Allowed error of channel {@code c}'s mean. */
    public static double mean(Oracle.Statistics o, int c) {
        return CHAIN * U * o.maxDeviation()[c];
    }

    /** Allowed error of channel {@code c}'s biased variance. */
    public static double variance(Oracle.Statistics o, int c) {
        return CHAIN * U * o.maxDeviation()[c] * Math.sqrt(o.variance()[c]);
    }

    /** Throws an {@link AssertionError} naming the channel when {@code actual} is outside the bounds. */
    public static void assertStatistics(Oracle.Statistics o, ChannelStatistics actual, String what) {
        if (actual.count() != o.count()) {
            throw new AssertionError(what + ": count " + actual.count() + ", expected " + o.count());
        }
        for (int c = 0; c < o.channels(); c++) {
            double dm = Math.abs(actual.mean(c) - o.mean()[c]);
            double dv = Math.abs(actual.variance(c) - o.variance()[c]);
            if (!(dm <= mean(o, c)) || !(dv <= variance(o, c)) || !(actual.m2(c) >= 0)) {
                throw new AssertionError(String.format(
                        "%s: channel %d mean %.9g (oracle %.9g, error %.3g, allowed %.3g), variance %.9g "
                                + "(oracle %.9g, error %.3g, allowed %.3g)",
                        what, c, actual.mean(c), o.mean()[c], dm, mean(o, c),
                        actual.variance(c), o.variance()[c], dv, variance(o, c)));
            }
        }
    }

    /**
     * Allowed error of one normalized element.
     *
     * @param x the input
     * @param expected the oracle's output before any activation
     * @param mean the oracle's channel mean
     * @param scale the oracle's {@code gamma / sqrt(var + eps)}
     * @param beta the channel's beta (0 without affine)
     * @param meanTol allowed error of the mean the kernel used (0 when it was given)
     * @param varTol allowed error of the variance the kernel used (0 when it was given)
     * @param varPlusEps the oracle's {@code var + eps}
     */
    public static double normalized(double x, double expected, double mean, double scale, double beta,
                                     double meanTol, double varTol, double varPlusEps) {
        return 2 * U * (2 * Math.abs((x - mean) * scale) + Math.abs(expected))
                + Math.abs(scale) * meanTol
                + Math.abs(expected - beta) * varTol / (2 * varPlusEps)
                + Float.MIN_VALUE;
    }

    /**
     * Every element of {@code y} within {@link #normalized} of the oracle's output.
     *
     * @param mean the statistics the kernel normalized with (the oracle's, when it computed them)
     * @param statsUsed the oracle's statistics when the kernel computed its own (their errors carry
     *     through), or null when the kernel was given {@code mean} and {@code var}
     */
    public static void assertNormalized(TensorShape shape, int offset, float[] x, float[] y, double[] mean,
                                        double[] var, float[] gamma, float[] beta, double eps, boolean relu,
                                        Oracle.Statistics statsUsed, String what) {
        double[] expected = Oracle.normalize(shape, x, offset, mean, var, gamma, beta, eps, false);
        for (long n = 0; n < shape.batch(); n++) {
            for (int c = 0; c < shape.channels(); c++) {
                double g = gamma == null ? 1 : gamma[c];
                double b = beta == null ? 0 : beta[c];
                double scale = g / Math.sqrt(var[c] + eps);
                double meanTol = statsUsed == null ? 0 : mean(statsUsed, c);
                double varTol = statsUsed == null ? 0 : variance(statsUsed, c);
                for (long s = 0; s < shape.spatialSize(); s++) {
                    int i = (int) shape.index(n, c, s);
                    double e = expected[i];
                    double allowed = normalized(x[offset + i], e, mean[c], scale, b, meanTol, varTol, var[c] + eps);
                    double want = relu ? Math.max(0, e) : e;
                    float got = y[offset + i];
                    if (!(Math.abs(got - want) <= allowed)) {
                        throw new AssertionError(String.format("%s: element (n=%d, c=%d, s=%d) is %.9g, oracle %.9g, "
                                + "error %.3g, allowed %.3g", what, n, c, s, got, want, Math.abs(got - want), allowed));
                    }
                }
            }
        }
    }

    /**
     * Backward results against the oracle's gradients {@code o}: the sums carry float chains of at most
     * {@link Welford#BLOCK} additions per accumulator (so {@link #CHAIN} u times the sum of magnitudes),
     * plus the rounding of x - mean; dx carries four roundings of its three terms and, in training,
     * the sums' errors through k2 and k3.
     *
     * @param mask the forward output when it fused a ReLU, else null
     */
    public static void assertGradients(TensorShape shape, int offset, float[] x, float[] dy, float[] gamma,
                                       boolean training, float[] mask, float[] mean, float[] invStd,
                                       Oracle.Gradients o, float[] dx, float[] dgamma, float[] dbeta) {
        double m = shape.perChannelCount();
        for (int c = 0; c < shape.channels(); c++) {
            double sumAbsG = 0;
            double sumAbsGXc = 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    int i = (int) shape.index(n, c, s);
                    double g = mask == null || mask[offset + i] > 0 ? dy[offset + i] : 0;
                    sumAbsG += Math.abs(g);
                    sumAbsGXc += Math.abs(g * (x[offset + i] - (double) mean[c]));
                }
            }
            double is = invStd[c];
            double gam = gamma == null ? 1 : gamma[c];
            double tolS1 = CHAIN * U * sumAbsG;
            double tolS2 = CHAIN * U * sumAbsGXc + 2 * U * Math.abs(mean[c]) * sumAbsG;
            within("dbeta", c, dbeta[c], o.dbeta()[c], tolS1 + U * Math.abs(o.dbeta()[c]));
            within("dgamma", c, dgamma[c], o.dgamma()[c], is * tolS2 + 2 * U * Math.abs(o.dgamma()[c]));
            double k1 = gam * is;
            double k2 = training ? -gam * is * is * is * o.dgamma()[c] / is / m : 0;
            double k3 = training ? -gam * is * o.dbeta()[c] / m : 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    int i = (int) shape.index(n, c, s);
                    double g = mask == null || mask[offset + i] > 0 ? dy[offset + i] : 0;
                    double xc = x[offset + i] - (double) mean[c];
                    double allowed = 4 * U * (Math.abs(k1 * g) + Math.abs(k2 * xc) + Math.abs(k2 * mean[c])
                            + Math.abs(k3))
                            + (training ? Math.abs(gam * is * is * is / m * xc) * tolS2 + Math.abs(gam * is / m) * tolS1 : 0)
                            + Float.MIN_VALUE;
                    within("dx", i, dx[offset + i], o.dx()[i], allowed);
                }
            }
        }
    }

    private static void within(String what, int index, float actual, double expected, double allowed) {
        if (!(Math.abs(actual - expected) <= allowed)) {
            throw new AssertionError(String.format("%s[%d] is %.9g, oracle %.9g, error %.3g, allowed %.3g",
                    what, index, actual, expected, Math.abs(actual - expected), allowed));
        }
    }
}
