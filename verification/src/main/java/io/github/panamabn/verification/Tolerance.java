package io.github.panamabn.verification;

import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.internal.Welford;

/**
 * Error bounds the kernels are held to, derived from how they compute, not tuned to pass.
 *
 * <p>Statistics: every float update works on {@code x - pivot} with the pivot inside the data, so
 * each rounding error is at most {@code u * R} where {@code u = 2^-24} and {@code R} is the channel's
 * largest deviation from its mean; and no float chain is longer than {@link Welford#BLOCK} before it
 * is merged in double. Rounding errors along a chain of length B grow like {@code sqrt(B)}, so
 * <pre>
 *   |mean - mean*| &lt;= 2 sqrt(B) (u R + MIN)       |var - var*| &lt;= 2 sqrt(B) (u R sigma + MIN)
 * </pre>
 * where MIN is the smallest subnormal float (the absolute rounding step once squares underflow).
 * With B = 64 the factor is 16; the worst seen over thousands of random adversarial channels is 5.
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
        return CHAIN * (U * o.maxDeviation()[c] + Float.MIN_VALUE);
    }

    /** Allowed error of channel {@code c}'s biased variance. */
    public static double variance(Oracle.Statistics o, int c) {
        return CHAIN * (U * o.maxDeviation()[c] * Math.sqrt(o.variance()[c]) + Float.MIN_VALUE);
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
}
