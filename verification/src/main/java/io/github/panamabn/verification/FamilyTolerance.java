package io.github.panamabn.verification;

import io.github.panamabn.kernels.internal.Welford;

/**
 * Error bounds of the per-sample norms against {@link FamilyOracle}, derived as {@link Tolerance}'s
 * are and built from them: a unit is a channel of batch norm's bounds. Two additions:
 * <ul>
 *   <li>RMS norm's mean square is a sum of non-negative float squares in blocks of at most
 *       {@link Welford#BLOCK} additions, each block added in double: its relative error is at most
 *       {@code (BLOCK + 1) u} (every partial sum is at most the block's total), plus one rounding per square;</li>
 *   <li>the per-element weight of layer norm adds one rounding to each output, and its gradient sums
 *       run down the rows in float blocks of {@link Welford#BLOCK}, as the per-channel sums do along a channel.</li>
 * </ul>
 */
public final class FamilyTolerance {
    private static final double U = Tolerance.U;
    /** Worst-case relative error of a blocked float sum of non-negative terms. */
    static final double POSITIVE_SUM = (Welford.BLOCK + 2) * U;
    /** Absolute error of one float rounding in the subnormal range. */
    static final double UNDERFLOW = Float.MIN_VALUE / 2.0;

    private FamilyTolerance() {
    }

    /**
     * Every element of y within bounds of the oracle's normalization with the oracle's statistics
     * {@code o} (layer and group norm): the kernel's statistics carry their {@link Tolerance} errors,
     * scaled by {@code statisticsFactor} (2 where a group's moments were merged from its channels', whose
     * deviations from their own means are at most twice the group's).
     */
    public static void assertNormalized(FamilyOracle.Cut cut, float[] x, int offset, float[] y, Oracle.Statistics o,
                                        float[] weight, float[] bias, double eps, double statisticsFactor,
                                        String what) {
        double[] expected = FamilyOracle.normalize(cut, Oracle.toDouble(x), offset, o.mean(), o.variance(), weight,
                bias, eps);
        for (int u = 0; u < cut.units(); u++) {
            double meanTol = statisticsFactor * Tolerance.mean(o, u);
            double varTol = statisticsFactor * Tolerance.variance(o, u);
            double is = 1 / Math.sqrt(o.variance()[u] + eps);
            for (long k = 0; k < cut.length(); k++) {
                int i = (int) cut.element(u, k);
                int p = cut.parameter(u, k);
                double w = weight == null ? 1 : weight[p];
                double b = bias == null ? 0 : bias[p];
                double e = expected[i];
                double allowed = Tolerance.normalized(x[offset + i], e, o.mean()[u], w * is, b, meanTol, varTol,
                        o.variance()[u] + eps) + U * Math.abs(e - b) + 4 * UNDERFLOW;
                check(what, u, k, y[offset + i], e, allowed);
            }
        }
    }

    /** RMS norm: every element of y within bounds of the oracle's, whose mean squares are {@code ms}. */
    public static void assertRms(FamilyOracle.Cut cut, float[] x, int offset, float[] y, double[] ms,
                                 float[] weight, double eps, String what) {
        double[] zero = new double[cut.units()];
        double[] expected = FamilyOracle.normalize(cut, Oracle.toDouble(x), offset, zero, ms, weight, null, eps);
        for (int u = 0; u < cut.units(); u++) {
            // relative error of 1/sqrt(ms + eps): half that of ms + eps, plus the float rounding of the factor
            double factor = (POSITIVE_SUM + 2 * U) * ms[u] / (ms[u] + eps) / 2 + U;
            for (long k = 0; k < cut.length(); k++) {
                int i = (int) cut.element(u, k);
                double e = expected[i];
                double allowed = Math.abs(e) * (factor + 3 * U) + 3 * UNDERFLOW;
                check(what, u, k, y[offset + i], e, allowed);
            }
        }
    }

    /**
     * Backward results against the oracle's gradients {@code o}, computed from the kernel's saved
     * statistics: per unit, the sums {@code S1 = sum(g)} and {@code S2 = sum(g (x - mean))} with
     * {@code g = dy * weight} carry float chains of at most {@link Welford#BLOCK} additions per
     * accumulator, and dx four roundings of its three terms plus the sums' errors; each parameter
     * gradient is a blocked float sum down its elements, then across units in double.
     */
    public static void assertGradients(FamilyOracle.Cut cut, float[] x, float[] dy, float[] weight, float[] mean,
                                       float[] invStd, boolean rms, Oracle.Gradients o, float[] dx, float[] dweight,
                                       float[] dbias, String what) {
        double m = cut.length();
        double[] absW = new double[cut.parameters()];
        double[] absB = new double[cut.parameters()];
        double[] terms = new double[cut.parameters()];
        for (int u = 0; u < cut.units(); u++) {
            double sumAbsG = 0;
            double sumAbsGXc = 0;
            for (long k = 0; k < m; k++) {
                int i = (int) cut.element(u, k);
                int p = cut.parameter(u, k);
                double g = dy[i] * (weight == null ? 1.0 : weight[p]);
                double xc = x[i] - (double) mean[u];
                sumAbsG += Math.abs(g);
                sumAbsGXc += Math.abs(g * xc);
                absW[p] += Math.abs(dy[i] * xc * invStd[u]) + 2 * U * Math.abs(dy[i] * mean[u] * invStd[u]);
                absB[p] += Math.abs(dy[i]);
                // a sum of dy * (x - mean) kept unscaled rounds at the subnormal step, then times invStd
                terms[p] += 4 + 2 * invStd[u];
            }
            double is = invStd[u];
            double tolS1 = Tolerance.CHAIN * U * sumAbsG + U * sumAbsG;
            double tolS2 = Tolerance.CHAIN * U * sumAbsGXc + 2 * U * Math.abs(mean[u]) * sumAbsG + U * sumAbsGXc;
            if (dx == null) {
                continue;
            }
            double s1 = 0;
            double s2 = 0;
            for (long k = 0; k < m; k++) {
                int i = (int) cut.element(u, k);
                double g = dy[i] * (weight == null ? 1.0 : weight[cut.parameter(u, k)]);
                s1 += g;
                s2 += g * (x[i] - (double) mean[u]);
            }
            double k2 = -is * is * is * s2 / m;
            double k3 = rms ? 0 : -is * s1 / m;
            for (long k = 0; k < m; k++) {
                int i = (int) cut.element(u, k);
                double g = dy[i] * (weight == null ? 1.0 : weight[cut.parameter(u, k)]);
                double xc = x[i] - (double) mean[u];
                double allowed = 5 * U * (Math.abs(is * g) + Math.abs(k2 * xc) + Math.abs(k2 * mean[u]) + Math.abs(k3))
                        + Math.abs(is * is * is / m * xc) * tolS2 + (rms ? 0 : Math.abs(is / m) * tolS1)
                        + 6 * UNDERFLOW;
                check(what + " dx", u, k, dx[i], o.dx()[i], allowed);
            }
        }
        for (int p = 0; p < cut.parameters(); p++) {
            if (dweight != null) {
                // per term: x - mean, xhat, the product and the sum may each round below the normal range
                double allowed = (Tolerance.CHAIN + 4) * U * absW[p] + 2 * U * Math.abs(o.dgamma()[p])
                        + UNDERFLOW * terms[p] + UNDERFLOW;
                check(what + " dweight", p, 0, dweight[p], o.dgamma()[p], allowed);
            }
            if (dbias != null) {
                double allowed = (Tolerance.CHAIN + 1) * U * absB[p] + U * Math.abs(o.dbeta()[p]) + Float.MIN_VALUE;
                check(what + " dbias", p, 0, dbias[p], o.dbeta()[p], allowed);
            }
        }
    }

    private static void check(String what, int unit, long k, float actual, double expected, double allowed) {
        if (!(Math.abs(actual - expected) <= allowed)) {
            throw new AssertionError(String.format("%s: unit %d element %d is %.9g, oracle %.9g, error %.3g, "
                    + "allowed %.3g", what, unit, k, actual, expected, Math.abs(actual - expected), allowed));
        }
    }
}
