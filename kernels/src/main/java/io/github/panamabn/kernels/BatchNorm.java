package io.github.panamabn.kernels;

import io.github.panamabn.kernels.internal.KernelBackend;
import io.github.panamabn.kernels.internal.KernelProvider;
import io.github.panamabn.kernels.internal.Welford;
import io.github.panamabn.kernels.internal.Workspace;
import java.lang.foreign.MemorySegment;

/**
 * Batch-normalization kernels on {@code float} tensors: per-channel statistics, forward training and
 * forward inference, for every {@link TensorShape} (NC, NCL, NCHW, NCDHW and their channels-last
 * forms), on {@code float[]} with an offset or on {@link MemorySegment}s (heap or native, long-indexed).
 *
 * <p>An instance binds one {@link Implementation}: {@link #get()} returns the one selected for this
 * JVM (PANAMA when {@code jdk.incubator.vector} is present, else SCALAR with one log line; the system
 * property {@code panamabn.kernels=scalar|panama} forces it), {@link #of} a specific one.
 *
 * <p>Contract of every method: arguments are validated before anything is written, and invalid ones
 * throw {@link NullPointerException}, {@link IllegalArgumentException},
 * {@link IndexOutOfBoundsException} or {@link IllegalStateException} naming the argument. The output
 * may be the input itself (same array and offset, or the same memory) for in-place operation; a
 * partial overlap is rejected. Instances are immutable and thread-safe; each call uses per-thread
 * scratch and allocates nothing once its thread has seen the channel count.
 *
 * <p>Numerics: statistics run Welford's update in float on {@code x - pivot} (the channel's first
 * element) over blocks of at most 64 updates per accumulator, merged in double with Chan et al.'s
 * formula; normalization is {@code y = (x - mean[c]) * scale[c] + beta[c]} with one float rounding
 * for the multiply-add (the double mean split in a float part subtracted from x and a rest folded into
 * the shift) and {@code scale = gamma / sqrt(var + eps)} computed in double once per call
 * and channel. A constant channel has variance exactly 0 and comes out as exactly beta.
 */
public final class BatchNorm {
    private static final BatchNorm DEFAULT = new BatchNorm(KernelProvider.defaultBackend());
    /** Beyond this, x - mean of a channel may overflow float, so training checks the channel exactly. */
    private static final double MAX_CENTERED = Float.MAX_VALUE / 4;

    private final KernelBackend backend;

    private BatchNorm(KernelBackend backend) {
        this.backend = backend;
    }

    /** The implementation selected for this JVM. */
    public static BatchNorm get() {
        return DEFAULT;
    }

    /**
     * A specific implementation.
     *
     * @throws UnsupportedOperationException if it cannot run in this JVM (see {@link #isAvailable})
     */
    public static BatchNorm of(Implementation implementation) {
        Checks.notNull(implementation, "implementation");
        KernelBackend b = KernelProvider.backend(implementation);
        return b == DEFAULT.backend ? DEFAULT : new BatchNorm(b);
    }

    /** Whether an implementation can run in this JVM. */
    public static boolean isAvailable(Implementation implementation) {
        return implementation == Implementation.SCALAR || KernelProvider.panamaUnavailableReason() == null;
    }

    /** The implementation this instance runs. */
    public Implementation implementation() {
        return backend.implementation();
    }

    // ---------------------------------------------------------------- statistics

    /**
     * Per-channel count, mean and M2 of {@code x[xOffset ..]} into {@code out} (overwritten).
     *
     * @param out statistics with {@code shape.channels()} channels
     */
    public void statistics(TensorShape shape, float[] x, int xOffset, ChannelStatistics out) {
        Checks.notNull(shape, "shape");
        Checks.range(x, xOffset, shape.elementCount(), "x");
        statisticsChecked(shape, x, null, xOffset, out);
    }

    /** As {@link #statistics(TensorShape, float[], int, ChannelStatistics)}, reading {@code x} from byte 0. */
    public void statistics(TensorShape shape, MemorySegment x, ChannelStatistics out) {
        Checks.notNull(shape, "shape");
        Checks.segment(x, shape.elementCount(), "x", false);
        statisticsChecked(shape, null, x, 0, out);
    }

    private void statisticsChecked(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                                   ChannelStatistics out) {
        Checks.notNull(out, "out");
        Checks.statistics(out, shape.channels(), "out");
        Workspace ws = Workspace.get(shape.channels(), backend);
        out.count = statistics(shape, xa, xs, xOffset, out.mean, out.m2, ws);
    }

    /**
     * The backend's statistics, with any channel whose float arithmetic overflowed (squares of
     * deviations beyond about 1.8e19) recomputed in double.
     *
     * @return the element count per channel
     */
    private long statistics(TensorShape shape, float[] xa, MemorySegment xs, long xOffset, double[] mean,
                            double[] m2, Workspace ws) {
        long count = backend.statistics(shape, xa, xs, xOffset, mean, m2, ws.scratch);
        for (int c = 0; c < shape.channels(); c++) {
            if (!Double.isFinite(mean[c]) || !Double.isFinite(m2[c])) {
                Welford.recomputeInDouble(shape, xa, xs, xOffset, c, mean, m2);
            }
        }
        return count;
    }

    // ---------------------------------------------------------------- forward training

    /**
     * Forward pass in training mode: normalizes each channel with its batch mean and biased batch
     * variance, {@code y = (x - mean) / sqrt(var + eps) * gamma + beta}, then applies {@code activation}.
     *
     * @param gamma per-channel scale, or null for 1 (affine off)
     * @param beta per-channel shift, or null for 0 (affine off)
     * @param eps added to the variance, positive and finite
     * @param stats receives the batch statistics (count, mean, M2), or null when not needed
     * @param saveMean receives the batch mean per channel, or null (kept for the backward pass)
     * @param saveInvStd receives {@code 1 / sqrt(var + eps)} per channel, or null
     */
    public void forwardTraining(TensorShape shape, float[] x, int xOffset, float[] y, int yOffset,
                                float[] gamma, float[] beta, float eps, Activation activation,
                                ChannelStatistics stats, float[] saveMean, float[] saveInvStd) {
        Checks.notNull(shape, "shape");
        Checks.range(x, xOffset, shape.elementCount(), "x");
        Checks.range(y, yOffset, shape.elementCount(), "y");
        Checks.noPartialOverlap(x, xOffset, y, yOffset, shape.elementCount());
        forwardTrainingChecked(shape, x, null, xOffset, y, null, yOffset,
                gamma, beta, eps, activation, null, stats, saveMean, saveInvStd);
    }

    /**
     * Forward pass in training mode with batch statistics computed beforehand by
     * {@link #statistics}: possibly merged over several shards of a batch
     * ({@link ChannelStatistics#merge}, synchronized batch norm), or checked by the caller before
     * anything is written. Normalizes with their mean and biased variance.
     *
     * @param batchStatistics the batch's statistics, {@code shape.channels()} channels, count at least 1
     * @see #forwardTraining(TensorShape, float[], int, float[], int, float[], float[], float, Activation,
     *      ChannelStatistics, float[], float[])
     */
    public void forwardWithStatistics(TensorShape shape, float[] x, int xOffset, float[] y, int yOffset,
                                      ChannelStatistics batchStatistics, float[] gamma, float[] beta, float eps,
                                      Activation activation, float[] saveMean, float[] saveInvStd) {
        Checks.notNull(shape, "shape");
        Checks.range(x, xOffset, shape.elementCount(), "x");
        Checks.range(y, yOffset, shape.elementCount(), "y");
        Checks.noPartialOverlap(x, xOffset, y, yOffset, shape.elementCount());
        Checks.notNull(batchStatistics, "batchStatistics");
        if (batchStatistics.count() < 1) {
            throw new IllegalArgumentException("batchStatistics must hold at least one element per channel, got count "
                    + batchStatistics.count());
        }
        forwardTrainingChecked(shape, x, null, xOffset, y, null, yOffset,
                gamma, beta, eps, activation, batchStatistics, null, saveMean, saveInvStd);
    }

    /**
     * As {@link #forwardTraining(TensorShape, float[], int, float[], int, float[], float[], float,
     * Activation, ChannelStatistics, float[], float[])}, on segments starting at byte 0.
     */
    public void forwardTraining(TensorShape shape, MemorySegment x, MemorySegment y,
                                float[] gamma, float[] beta, float eps, Activation activation,
                                ChannelStatistics stats, float[] saveMean, float[] saveInvStd) {
        Checks.notNull(shape, "shape");
        Checks.segment(x, shape.elementCount(), "x", false);
        Checks.segment(y, shape.elementCount(), "y", true);
        Checks.noPartialOverlap(x, y, shape.elementCount());
        forwardTrainingChecked(shape, null, x, 0, null, y, 0, gamma, beta, eps, activation, null, stats,
                saveMean, saveInvStd);
    }

    private void forwardTrainingChecked(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                                        float[] ya, MemorySegment ys, long yOffset, float[] gamma, float[] beta, float eps,
                                        Activation activation, ChannelStatistics given, ChannelStatistics stats,
                                        float[] saveMean, float[] saveInvStd) {
        int channels = shape.channels();
        Checks.statistics(given, channels, "batchStatistics");
        Checks.perChannel(gamma, channels, "gamma", true);
        Checks.perChannel(beta, channels, "beta", true);
        Checks.epsilon(eps);
        Checks.notNull(activation, "activation");
        Checks.statistics(stats, channels, "stats");
        Checks.perChannel(saveMean, channels, "saveMean", true);
        Checks.perChannel(saveInvStd, channels, "saveInvStd", true);

        Workspace ws = Workspace.get(channels, backend);
        double[] mean = ws.mean;
        double[] m2 = ws.m2;
        long count;
        if (given == null) {
            count = statistics(shape, xa, xs, xOffset, mean, m2, ws);
        } else {
            count = given.count;
            System.arraycopy(given.mean, 0, mean, 0, channels);
            System.arraycopy(given.m2, 0, m2, 0, channels);
        }
        for (int c = 0; c < channels; c++) {
            double range = Math.sqrt(m2[c] / count) + Math.abs(mean[c]);
            if (Double.isFinite(range) && range >= MAX_CENTERED) {
                double largest = given == null
                        ? Welford.recomputeInDouble(shape, xa, xs, xOffset, c, mean, m2)
                        : Welford.largestDeviation(shape, xa, xs, xOffset, c, mean[c]);
                if (largest >= Float.MAX_VALUE) {
                    throw new IllegalArgumentException("x: channel " + c + " has values " + largest
                            + " away from its mean " + mean[c] + ", beyond float's range; scale the input down");
                }
            }
        }
        if (stats != null) {
            System.arraycopy(mean, 0, stats.mean, 0, channels);
            System.arraycopy(m2, 0, stats.m2, 0, channels);
            stats.count = count;
        }
        for (int c = 0; c < channels; c++) {
            double invStd = 1 / Math.sqrt(m2[c] / count + eps);
            setAffine(ws, c, mean[c], invStd, gamma, beta);
            if (saveMean != null) {
                saveMean[c] = (float) mean[c];
            }
            if (saveInvStd != null) {
                saveInvStd[c] = (float) invStd;
            }
        }
        backend.normalize(shape, xa, xs, xOffset, ya, ys, yOffset, ws.center, ws.scale, ws.shift, floor(activation));
    }

    // ---------------------------------------------------------------- forward inference

    /**
     * Forward pass with given statistics (inference, or frozen batch norm):
     * {@code y = (x - mean[c]) * scale[c] + beta[c]} with {@code scale = gamma / sqrt(var + eps)}
     * computed once per call and channel; then {@code activation}.
     *
     * @param mean per-channel mean (running mean)
     * @param var per-channel variance (running variance), each {@code var + eps > 0}
     * @param gamma per-channel scale, or null for 1
     * @param beta per-channel shift, or null for 0
     */
    public void forwardInference(TensorShape shape, float[] x, int xOffset, float[] y, int yOffset,
                                 float[] mean, float[] var, float[] gamma, float[] beta, float eps,
                                 Activation activation) {
        Checks.notNull(shape, "shape");
        Checks.range(x, xOffset, shape.elementCount(), "x");
        Checks.range(y, yOffset, shape.elementCount(), "y");
        Checks.noPartialOverlap(x, xOffset, y, yOffset, shape.elementCount());
        forwardInferenceChecked(shape, x, null, xOffset, y, null, yOffset,
                mean, var, gamma, beta, eps, activation);
    }

    /**
     * As {@link #forwardInference(TensorShape, float[], int, float[], int, float[], float[], float[],
     * float[], float, Activation)}, on segments starting at byte 0.
     */
    public void forwardInference(TensorShape shape, MemorySegment x, MemorySegment y,
                                 float[] mean, float[] var, float[] gamma, float[] beta, float eps,
                                 Activation activation) {
        Checks.notNull(shape, "shape");
        Checks.segment(x, shape.elementCount(), "x", false);
        Checks.segment(y, shape.elementCount(), "y", true);
        Checks.noPartialOverlap(x, y, shape.elementCount());
        forwardInferenceChecked(shape, null, x, 0, null, y, 0, mean, var, gamma, beta, eps, activation);
    }

    private void forwardInferenceChecked(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                                         float[] ya, MemorySegment ys, long yOffset, float[] mean, float[] var, float[] gamma, float[] beta,
                                         float eps, Activation activation) {
        int channels = shape.channels();
        Checks.perChannel(mean, channels, "mean", false);
        Checks.perChannel(var, channels, "var", false);
        Checks.perChannel(gamma, channels, "gamma", true);
        Checks.perChannel(beta, channels, "beta", true);
        Checks.epsilon(eps);
        Checks.notNull(activation, "activation");
        for (int c = 0; c < channels; c++) {
            if (!(var[c] >= 0)) {
                throw new IllegalArgumentException("var[" + c + "] must be a non-negative variance, got " + var[c]);
            }
        }
        Workspace ws = Workspace.get(channels, backend);
        for (int c = 0; c < channels; c++) {
            setAffine(ws, c, mean[c], 1 / Math.sqrt((double) var[c] + eps), gamma, beta);
        }
        backend.normalize(shape, xa, xs, xOffset, ya, ys, yOffset, ws.center, ws.scale, ws.shift, floor(activation));
    }

    // ---------------------------------------------------------------- backward

    /**
     * Backward pass. With {@code training} true, the gradient of the training-mode forward, where the
     * batch statistics depend on x:
     * {@code dx = gamma * invStd / M * (M * g - sum(g) - xhat * sum(g * xhat))}, M = N * spatial size;
     * with {@code training} false, the gradient with fixed (global) statistics, as in eval or frozen
     * batch norm: {@code dx = g * gamma * invStd}. In both, {@code dbeta = sum(g)} and
     * {@code dgamma = sum(g * xhat)} per channel, {@code xhat = (x - mean) * invStd}, and g is dy, or dy
     * masked to 0 where the forward output y was not positive when the forward fused a ReLU. The two
     * sums are taken in one sweep over dy and x.
     *
     * @param y the forward output, needed only for {@link Activation#RELU} (else may be null)
     * @param dx receives the input gradient, or null when it is not needed; may be dy (in place)
     * @param gamma per-channel scale, or null for 1
     * @param mean the forward's saveMean (training) or the running mean
     * @param invStd the forward's saveInvStd (training) or {@code 1 / sqrt(running_var + eps)}
     * @param dgamma receives the gradient of gamma (overwritten, not accumulated), or null
     * @param dbeta receives the gradient of beta (overwritten, not accumulated), or null
     */
    public void backward(TensorShape shape, float[] x, int xOffset, float[] dy, int dyOffset, float[] y, int yOffset,
                         float[] dx, int dxOffset, float[] gamma, float[] mean, float[] invStd, boolean training,
                         Activation activation, float[] dgamma, float[] dbeta) {
        Checks.notNull(shape, "shape");
        long count = shape.elementCount();
        Checks.range(x, xOffset, count, "x");
        Checks.range(dy, dyOffset, count, "dy");
        Checks.notNull(activation, "activation");
        if (activation == Activation.RELU) {
            Checks.range(y, yOffset, count, "y (the forward output, needed for the ReLU's gradient)");
        }
        if (dx != null) {
            Checks.range(dx, dxOffset, count, "dx");
            Checks.noPartialOverlap(dy, dyOffset, dx, dxOffset, count);
            Checks.noPartialOverlap(x, xOffset, dx, dxOffset, count);
            if (activation == Activation.RELU) {
                Checks.noPartialOverlap(y, yOffset, dx, dxOffset, count);
            }
        }
        float[] ya = activation == Activation.RELU ? y : null;
        backwardChecked(shape, x, null, xOffset, dy, null, dyOffset, ya, null, yOffset, dx, null, dxOffset,
                gamma, mean, invStd, training, dgamma, dbeta);
    }

    /**
     * As {@link #backward(TensorShape, float[], int, float[], int, float[], int, float[], int, float[],
     * float[], float[], boolean, Activation, float[], float[])}, on segments starting at byte 0.
     */
    public void backward(TensorShape shape, MemorySegment x, MemorySegment dy, MemorySegment y, MemorySegment dx,
                         float[] gamma, float[] mean, float[] invStd, boolean training, Activation activation,
                         float[] dgamma, float[] dbeta) {
        Checks.notNull(shape, "shape");
        long count = shape.elementCount();
        Checks.segment(x, count, "x", false);
        Checks.segment(dy, count, "dy", false);
        Checks.notNull(activation, "activation");
        if (activation == Activation.RELU) {
            Checks.segment(y, count, "y (the forward output, needed for the ReLU's gradient)", false);
        }
        if (dx != null) {
            Checks.segment(dx, count, "dx", true);
            Checks.noPartialOverlap(dy, dx, count);
            Checks.noPartialOverlap(x, dx, count);
            if (activation == Activation.RELU) {
                Checks.noPartialOverlap(y, dx, count);
            }
        }
        MemorySegment ys = activation == Activation.RELU ? y : null;
        backwardChecked(shape, null, x, 0, null, dy, 0, null, ys, 0, null, dx, 0,
                gamma, mean, invStd, training, dgamma, dbeta);
    }

    private void backwardChecked(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                                 float[] dya, MemorySegment dys, long dyOffset, float[] ya, MemorySegment ys, long yOffset,
                                 float[] dxa, MemorySegment dxs, long dxOffset, float[] gamma, float[] mean,
                                 float[] invStd, boolean training, float[] dgamma, float[] dbeta) {
        int channels = shape.channels();
        Checks.perChannel(gamma, channels, "gamma", true);
        Checks.perChannel(mean, channels, "mean", false);
        Checks.perChannel(invStd, channels, "invStd", false);
        Checks.perChannel(dgamma, channels, "dgamma", true);
        Checks.perChannel(dbeta, channels, "dbeta", true);
        boolean writesDx = dxa != null || dxs != null;
        Workspace ws = Workspace.get(channels, backend);
        double[] sumDy = ws.mean;
        double[] sumDyXc = ws.m2;
        if (training || dgamma != null || dbeta != null) {
            backend.gradientSums(shape, dya, dys, dyOffset, xa, xs, xOffset, ya, ys, yOffset, mean,
                    sumDy, sumDyXc, ws.scratch);
        }
        double m = shape.perChannelCount();
        for (int c = 0; c < channels; c++) {
            double is = invStd[c];
            double g = gamma == null ? 1 : gamma[c];
            if (dbeta != null) {
                dbeta[c] = (float) sumDy[c];
            }
            if (dgamma != null) {
                dgamma[c] = (float) (sumDyXc[c] * is);
            }
            ws.gradScale[c] = (float) (g * is);
            ws.centeredScale[c] = training ? (float) (-g * is * is * is * sumDyXc[c] / m) : 0f;
            ws.gradShift[c] = training ? (float) (-g * is * sumDy[c] / m) : 0f;
        }
        if (writesDx) {
            backend.gradientApply(shape, dya, dys, dyOffset, xa, xs, xOffset, ya, ys, yOffset, dxa, dxs, dxOffset,
                    mean, ws.gradScale, ws.centeredScale, ws.gradShift);
        }
    }

    /**
     * Center, scale and shift of channel c. The mean is split into its float part, subtracted from x
     * exactly (or nearly: x is close to it), and the rest, folded into the shift; so a large mean
     * offset costs no accuracy in the output, and a constant channel still comes out as exactly beta.
     */
    private static void setAffine(Workspace ws, int c, double mean, double invStd, float[] gamma, float[] beta) {
        float center = (float) mean;
        double scale = gamma == null ? invStd : gamma[c] * invStd;
        double rest = mean - center;
        ws.center[c] = center;
        ws.scale[c] = (float) scale;
        ws.shift[c] = (float) ((beta == null ? 0 : beta[c]) - rest * scale);
    }

    private static float floor(Activation activation) {
        return activation == Activation.RELU ? 0f : Float.NEGATIVE_INFINITY;
    }

    @Override
    public String toString() {
        return "BatchNorm[" + implementation() + "]";
    }
}
