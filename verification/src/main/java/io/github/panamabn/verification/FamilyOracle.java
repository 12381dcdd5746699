package io.github.panamabn.verification;

import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
import java.util.SplittableRandom;

/**
 * The reference for the per-sample norms (layer, RMS, group, instance): double precision, two passes,
 * written for clarity. A {@link Cut} says which elements share a mean and variance (a unit) and which
 * affine parameter each element takes; the oracle is the same for every cut, as the kernels' engine is.
 */
public final class FamilyOracle {
    private FamilyOracle() {
    }

    /** How a tensor's elements fall into units and onto affine parameters. */
    public interface Cut {
        /** Number of units. */
        int units();

        /** Elements per unit. */
        long length();

        /** Memory index (from the tensor's start) of element k of unit u. */
        long element(int u, long k);

        /** The affine parameter element k of unit u takes. */
        int parameter(int u, long k);

        /** Number of affine parameters. */
        int parameters();

        /** Rows of {@code features} contiguous floats, parameters per feature: layer and RMS norm. */
        static Cut rows(int rows, int features) {
            return new Cut() {
                public int units() {
                    return rows;
                }

                public long length() {
                    return features;
                }

                public long element(int u, long k) {
                    return (long) u * features + k;
                }

                public int parameter(int u, long k) {
                    return (int) k;
                }

                public int parameters() {
                    return features;
                }

                @Override
                public String toString() {
                    return rows + " rows x " + features;
                }
            };
        }

        /** (sample, group) units of a tensor of any layout, parameters per channel: group and instance norm. */
        static Cut groups(TensorShape shape, int groups) {
            int perGroup = shape.channels() / groups;
            long spatial = shape.spatialSize();
            return new Cut() {
                public int units() {
                    return (int) (shape.batch() * groups);
                }

                public long length() {
                    return perGroup * spatial;
                }

                public long element(int u, long k) {
                    long n = u / groups;
                    int c = u % groups * perGroup + (int) (k / spatial);
                    return shape.index(n, c, k % spatial);
                }

                public int parameter(int u, long k) {
                    return u % groups * perGroup + (int) (k / spatial);
                }

                public int parameters() {
                    return shape.channels();
                }

                @Override
                public String toString() {
                    return shape + " in " + groups + " groups";
                }
            };
        }
    }

    /**
     * Fills {@code x[offset ..]} with {@code family}'s data, each unit drawn with its own parameters (as
     * {@link DataFamily} gives each channel its own).
     */
    public static void fill(Cut cut, DataFamily family, float[] x, int offset, long seed) {
        float[] units = new float[Math.toIntExact(cut.units() * cut.length())];
        family.fill(TensorShape.ncl(1, cut.units(), cut.length()), units, 0, new SplittableRandom(seed));
        for (int u = 0; u < cut.units(); u++) {
            for (long k = 0; k < cut.length(); k++) {
                x[offset + (int) cut.element(u, k)] = units[(int) (u * cut.length() + k)];
            }
        }
    }

    /** Per-unit mean, biased variance, M2 and largest deviation, as {@link Oracle#statistics} per channel. */
    public static Oracle.Statistics statistics(Cut cut, float[] x, int offset) {
        int units = cut.units();
        double[] mean = new double[units];
        double[] m2 = new double[units];
        double[] var = new double[units];
        double[] maxDev = new double[units];
        for (int u = 0; u < units; u++) {
            double sum = 0;
            for (long k = 0; k < cut.length(); k++) {
                sum += x[offset + (int) cut.element(u, k)];
            }
            mean[u] = sum / cut.length();
            double squares = 0;
            double largest = 0;
            for (long k = 0; k < cut.length(); k++) {
                double d = x[offset + (int) cut.element(u, k)] - mean[u];
                squares += d * d;
                largest = Math.max(largest, Math.abs(d));
            }
            m2[u] = squares;
            var[u] = squares / cut.length();
            maxDev[u] = largest;
        }
        return new Oracle.Statistics(cut.length(), mean, var, m2, maxDev);
    }

    /** Per-unit mean of squares. */
    public static double[] meanSquares(Cut cut, float[] x, int offset) {
        double[] ms = new double[cut.units()];
        for (int u = 0; u < cut.units(); u++) {
            double s = 0;
            for (long k = 0; k < cut.length(); k++) {
                double v = x[offset + (int) cut.element(u, k)];
                s += v * v;
            }
            ms[u] = s / cut.length();
        }
        return ms;
    }

    /**
     * {@code y = (x - mean) / sqrt(var + eps) * weight + bias} per unit, memory-indexed; for RMS norm pass
     * mean 0 and the mean squares as var.
     *
     * @param weight null for 1
     * @param bias null for 0
     */
    public static double[] normalize(Cut cut, double[] x, int offset, double[] mean, double[] var, float[] weight,
                                     float[] bias, double eps) {
        double[] y = new double[Math.toIntExact(cut.units() * cut.length())];
        for (int u = 0; u < cut.units(); u++) {
            double is = 1 / Math.sqrt(var[u] + eps);
            for (long k = 0; k < cut.length(); k++) {
                int i = (int) cut.element(u, k);
                int p = cut.parameter(u, k);
                y[i] = (x[offset + i] - mean[u]) * is * (weight == null ? 1 : weight[p]) + (bias == null ? 0 : bias[p]);
            }
        }
        return y;
    }

    /** The forward as a function of x alone (statistics recomputed from x), for finite differences. */
    public static double[] forward(Cut cut, double[] x, float[] weight, float[] bias, double eps, boolean rms) {
        double[] mean = new double[cut.units()];
        double[] var = new double[cut.units()];
        for (int u = 0; u < cut.units(); u++) {
            double sum = 0;
            double squares = 0;
            for (long k = 0; k < cut.length(); k++) {
                sum += x[(int) cut.element(u, k)];
            }
            mean[u] = rms ? 0 : sum / cut.length();
            for (long k = 0; k < cut.length(); k++) {
                double d = x[(int) cut.element(u, k)] - mean[u];
                squares += d * d;
            }
            var[u] = squares / cut.length();
        }
        return normalize(cut, x, 0, mean, var, weight, bias, eps);
    }

    /**
     * The backward pass in double from its definition, with the forward's saved per-unit mean (0 for
     * RMS norm) and invStd: {@code g = dy * weight}, {@code xhat = (x - mean) * invStd},
     * {@code dx = invStd * (g - mean(g) - xhat * mean(g * xhat))} (RMS: without the {@code mean(g)} term),
     * {@code dweight = sum(dy * xhat)}, {@code dbias = sum(dy)} per parameter.
     */
    public static Oracle.Gradients backward(Cut cut, float[] x, float[] dy, float[] weight, double[] mean,
                                            double[] invStd, boolean rms) {
        double m = cut.length();
        double[] dx = new double[Math.toIntExact(cut.units() * cut.length())];
        double[] dw = new double[cut.parameters()];
        double[] db = new double[cut.parameters()];
        for (int u = 0; u < cut.units(); u++) {
            double sumG = 0;
            double sumGXhat = 0;
            for (long k = 0; k < m; k++) {
                int i = (int) cut.element(u, k);
                int p = cut.parameter(u, k);
                double g = dy[i] * (weight == null ? 1.0 : weight[p]);
                double xhat = (x[i] - mean[u]) * invStd[u];
                sumG += g;
                sumGXhat += g * xhat;
                dw[p] += dy[i] * xhat;
                db[p] += dy[i];
            }
            for (long k = 0; k < m; k++) {
                int i = (int) cut.element(u, k);
                int p = cut.parameter(u, k);
                double g = dy[i] * (weight == null ? 1.0 : weight[p]);
                double xhat = (x[i] - mean[u]) * invStd[u];
                dx[i] = invStd[u] * (g - (rms ? 0 : sumG / m) - xhat * sumGXhat / m);
            }
        }
        return new Oracle.Gradients(dx, dw, db);
    }

    /** Statistics of one unit per "channel", as the kernels' {@code statistics} calls report them. */
    public static void assertStatistics(Oracle.Statistics o, ChannelStatistics actual, String what) {
        Tolerance.assertStatistics(o, actual, what);
    }
}
