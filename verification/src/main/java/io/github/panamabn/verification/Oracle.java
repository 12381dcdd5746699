package io.github.panamabn.verification;

import io.github.panamabn.kernels.TensorShape;

/**
 * The reference: batch normalization in double precision, two passes, written for clarity and
 * never for speed. Every kernel and layer is held to it.
 */
public final class Oracle {
    private Oracle() {
    }

    /** Per-channel statistics: mean, biased variance (as normalization uses) and M2. */
    public record Statistics(long count, double[] mean, double[] variance, double[] m2, double[] maxDeviation) {
        /** Number of channels. */
        public int channels() {
            return mean.length;
        }
    }

    /** Mean by one pass, then the squared deviations from it by a second, all in double. */
    public static Statistics statistics(TensorShape shape, float[] x, int offset) {
        int channels = shape.channels();
        long perChannel = shape.perChannelCount();
        double[] mean = new double[channels];
        double[] m2 = new double[channels];
        double[] variance = new double[channels];
        double[] maxDeviation = new double[channels];
        for (int c = 0; c < channels; c++) {
            double sum = 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    sum += x[offset + (int) shape.index(n, c, s)];
                }
            }
            mean[c] = sum / perChannel;
            double squares = 0;
            double maxDev = 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    double d = x[offset + (int) shape.index(n, c, s)] - mean[c];
                    squares += d * d;
                    maxDev = Math.max(maxDev, Math.abs(d));
                }
            }
            m2[c] = squares;
            variance[c] = squares / perChannel;
            maxDeviation[c] = maxDev;
        }
        return new Statistics(perChannel, mean, variance, m2, maxDeviation);
    }

    /**
     * {@code y = (x - mean) / sqrt(var + eps) * gamma + beta}, then ReLU if asked, in double.
     *
     * @param gamma null for 1
     * @param beta null for 0
     */
    public static double[] normalize(TensorShape shape, float[] x, int offset, double[] mean, double[] var,
                                     float[] gamma, float[] beta, double eps, boolean relu) {
        double[] y = new double[Math.toIntExact(shape.elementCount())];
        for (long n = 0; n < shape.batch(); n++) {
            for (int c = 0; c < shape.channels(); c++) {
                double invStd = 1 / Math.sqrt(var[c] + eps);
                double g = gamma == null ? 1 : gamma[c];
                double b = beta == null ? 0 : beta[c];
                for (long s = 0; s < shape.spatialSize(); s++) {
                    int i = (int) shape.index(n, c, s);
                    double v = (x[offset + i] - mean[c]) * invStd * g + b;
                    y[i] = relu ? Math.max(0, v) : v;
                }
            }
        }
        return y;
    }

    /** Widens float values to double. */
    public static double[] toDouble(float[] values) {
        double[] d = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            d[i] = values[i];
        }
        return d;
    }

    /** Gradients of the backward pass. */
    public record Gradients(double[] dx, double[] dgamma, double[] dbeta) {
    }

    /**
     * The backward pass in double, from its definition: g is dy masked to 0 where {@code reluOutput} is
     * not positive (when given); {@code dbeta = sum(g)}, {@code dgamma = sum(g * xhat)}, and dx with
     * batch statistics (training) or with fixed ones.
     *
     * @param mean the mean the forward normalized with
     * @param invStd {@code 1 / sqrt(var + eps)} the forward normalized with
     * @param reluOutput the forward output when it fused a ReLU, else null
     */
    public static Gradients backward(TensorShape shape, float[] x, int xOffset, float[] dy, int dyOffset,
                                     float[] reluOutput, int yOffset, float[] gamma, double[] mean, double[] invStd,
                                     boolean training) {
        int channels = shape.channels();
        double m = shape.perChannelCount();
        double[] dx = new double[Math.toIntExact(shape.elementCount())];
        double[] dgamma = new double[channels];
        double[] dbeta = new double[channels];
        for (int c = 0; c < channels; c++) {
            double sumG = 0;
            double sumGXhat = 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    int i = (int) shape.index(n, c, s);
                    double g = gradient(dy[dyOffset + i], reluOutput, yOffset + i);
                    sumG += g;
                    sumGXhat += g * (x[xOffset + i] - mean[c]) * invStd[c];
                }
            }
            dbeta[c] = sumG;
            dgamma[c] = sumGXhat;
            double gam = gamma == null ? 1 : gamma[c];
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    int i = (int) shape.index(n, c, s);
                    double g = gradient(dy[dyOffset + i], reluOutput, yOffset + i);
                    double xhat = (x[xOffset + i] - mean[c]) * invStd[c];
                    dx[i] = training
                            ? gam * invStd[c] / m * (m * g - sumG - xhat * sumGXhat)
                            : g * gam * invStd[c];
                }
            }
        }
        return new Gradients(dx, dgamma, dbeta);
    }

    private static double gradient(float dy, float[] reluOutput, int i) {
        return reluOutput == null || reluOutput[i] > 0 ? dy : 0;
    }
}
