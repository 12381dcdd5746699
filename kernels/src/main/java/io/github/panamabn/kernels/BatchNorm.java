package io.github.panamabn.kernels;

import io.github.panamabn.kernels.internal.KernelBackend;
import io.github.panamabn.kernels.internal.KernelCall;
import io.github.panamabn.kernels.internal.KernelProvider;
import io.github.panamabn.kernels.internal.WorkerPool;
import java.lang.foreign.MemorySegment;

/**
 * Batch-normalization kernels on {@code float} tensors: per-channel statistics, forward training,
 * forward inference and backward, for every {@link TensorShape} (NC, NCL, NCHW, NCDHW and their
 * channels-last forms), on {@code float[]} with an offset or on {@link MemorySegment}s (heap or
 * native, long-indexed).
 *
 * <p>An instance binds one {@link Implementation}: {@link #get()} returns the one selected for this
 * JVM (PANAMA when {@code jdk.incubator.vector} is present, else SCALAR with one log line; the system
 * property {@code panamabn.kernels=scalar|panama} forces it), {@link #of} a specific one. It runs each
 * call on the calling thread, or with {@link #withThreads} on several; the result is the same bits
 * for any thread count, because how the work is cut depends on the shape alone.
 *
 * <p>Contract of every method: arguments are validated before anything is written, and invalid ones
 * throw {@link NullPointerException}, {@link IllegalArgumentException},
 * {@link IndexOutOfBoundsException} or {@link IllegalStateException} naming the argument. The output
 * may be the input itself (same array and offset, or the same memory) for in-place operation; a
 * partial overlap is rejected. Instances are immutable and thread-safe; each call uses per-thread
 * scratch and allocates nothing once its thread has seen a tensor of that size. The kernels keep no
 * reference to a tensor after a call returns.
 *
 * <p>Numerics: statistics run Welford's update in float on {@code x - pivot} (the channel's first
 * element) over blocks of at most 64 updates per accumulator, merged in double with Chan et al.'s
 * formula; a channel whose float arithmetic overflowed, or whose variance is so small that float
 * products may have underflowed (below 2^-100), is recomputed in double. Normalization is
 * {@code y = (x - mean[c]) * scale[c] + beta[c]} with one float rounding for the multiply-add (the
 * double mean split in a float part subtracted from x and a rest folded into the shift) and
 * {@code scale = gamma / sqrt(var + eps)} computed in double once per call and channel; a channel
 * whose values lie further from its mean than float's range is normalized in double. A constant
 * channel has variance exactly 0 and comes out as exactly beta.
 */
public final class BatchNorm {
    private static final BatchNorm SCALAR_ONE = new BatchNorm(KernelProvider.backend(Implementation.SCALAR), null);

    private final KernelBackend backend;
    /** The threads beside the caller's, or null: the calling thread alone. */
    private final WorkerPool pool;

    private BatchNorm(KernelBackend backend, WorkerPool pool) {
        this.backend = backend;
        this.pool = pool;
    }

    /**
     * The implementation selected for this JVM.
     *
     * @throws IllegalArgumentException if the system property {@code panamabn.kernels} is set to neither
     *     {@code scalar} nor {@code panama} (on every call, so the error names the value each time)
     * @throws UnsupportedOperationException if it forces {@code panama} where Panama cannot run
     */
    public static BatchNorm get() {
        return instance(KernelProvider.defaultBackend());
    }

    /** The one single-threaded instance of a backend. */
    private static BatchNorm instance(KernelBackend backend) {
        return backend == SCALAR_ONE.backend ? SCALAR_ONE : PanamaOne.INSTANCE;
    }

    /** Initialized only once Panama is known to run. */
    private static final class PanamaOne {
        static final BatchNorm INSTANCE = new BatchNorm(KernelProvider.backend(Implementation.PANAMA), null);
    }

    /**
     * A specific implementation.
     *
     * @throws UnsupportedOperationException if it cannot run in this JVM (see {@link #isAvailable})
     */
    public static BatchNorm of(Implementation implementation) {
        Checks.notNull(implementation, "implementation");
        return instance(KernelProvider.backend(implementation));
    }

    /**
     * These kernels run on up to {@code threads} threads: the calling one, and {@code threads - 1}
     * daemon workers shared by every instance of that thread count. Each call still returns only when
     * its work is done, and gives the same bits as on one thread. Tensors under 2^17 elements, and
     * segments confined to the calling thread, run on the calling thread alone; so does a call that
     * finds the workers busy with another call.
     *
     * @param threads 1 for the calling thread alone, up to 256
     * @throws IllegalArgumentException if {@code threads} is not in [1, 256]
     */
    public BatchNorm withThreads(int threads) {
        if (threads < 1 || threads > 256) {
            throw new IllegalArgumentException("threads must be in [1, 256], got " + threads);
        }
        return new BatchNorm(backend, threads == 1 ? null : WorkerPool.shared(threads));
    }

    /** The most threads a call of these kernels runs on (1: the calling thread alone). */
    public int threads() {
        return pool == null ? 1 : pool.threads();
    }

    private KernelCall begin(TensorShape shape) {
        return KernelCall.begin(backend, pool, shape);
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
        out.count = begin(shape).statistics(xa, xs, xOffset, out.mean, out.m2);
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
        long n = begin(shape).forwardTraining(xa, xs, xOffset, ya, ys, yOffset,
                given == null ? null : given.mean, given == null ? null : given.m2, given == null ? 0 : given.count,
                gamma, beta, eps, floor(activation), stats == null ? null : stats.mean, stats == null ? null : stats.m2,
                saveMean, saveInvStd);
        if (stats != null) {
            stats.count = n;
        }
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
        begin(shape).forwardInference(xa, xs, xOffset, ya, ys, yOffset, mean, var, gamma, beta, eps,
                floor(activation));
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
            Checks.noPartialOverlap(dy, dyOffset, "dy", dx, dxOffset, "dx", count);
            Checks.noPartialOverlap(x, xOffset, "x", dx, dxOffset, "dx", count);
            if (activation == Activation.RELU) {
                Checks.noPartialOverlap(y, yOffset, "y", dx, dxOffset, "dx", count);
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
            Checks.noPartialOverlap(dy, "dy", dx, "dx", count);
            Checks.noPartialOverlap(x, "x", dx, "dx", count);
            if (activation == Activation.RELU) {
                Checks.noPartialOverlap(y, "y", dx, "dx", count);
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
        begin(shape).backward(dya, dys, dyOffset, xa, xs, xOffset, ya, ys, yOffset, dxa, dxs, dxOffset,
                gamma, mean, invStd, training, dgamma, dbeta);
    }

    private static float floor(Activation activation) {
        return activation == Activation.RELU ? 0f : Float.NEGATIVE_INFINITY;
    }

    @Override
    public String toString() {
        return "BatchNorm[" + implementation() + (pool == null ? "" : ", " + pool.threads() + " threads") + "]";
    }
}
