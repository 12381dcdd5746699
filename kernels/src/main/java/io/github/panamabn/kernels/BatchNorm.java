package io.github.panamabn.kernels;

import io.github.panamabn.kernels.internal.KernelBackend;
import io.github.panamabn.kernels.internal.KernelCall;
import io.github.panamabn.kernels.internal.KernelProvider;
import io.github.panamabn.kernels.internal.WorkerPool;
import java.lang.foreign.MemorySegment;

/**
 * Batch-normalization kernels on {@code float} tensors: per-channel statistics, forward training,
 * forward inference and backward, for every {@link TensorShape} (NC, NCL, NCHW, NCDHW and their
 * channels-last forms), on {@link TensorView}s of {@code float[]}s or {@link MemorySegment}s (heap or
 * native, long-indexed; one call may mix them).
 *
 * <p>Calls take their operands in one order: the {@link NormConfig} (eps and the fused activation),
 * then for backward the {@link GradientMode} and the {@link SavedStatistics}, or the statistics to
 * normalize with, then the tensors x, y, dy, dx, then the {@link Affine} parameters and the outputs.
 * An optional output is an overload, never a null argument. The views and parameter objects are made
 * once and reused: a call then allocates nothing.
 *
 * <p>An instance binds one {@link Implementation}: {@link #get()} returns the one selected for this
 * JVM (PANAMA when {@code jdk.incubator.vector} is present, else SCALAR with one log line; the system
 * property {@code panamabn.kernels=scalar|panama} forces it), {@link #of} a specific one. It runs each
 * call on the calling thread, or with {@link #withThreads} on several; the result is the same bits
 * for any thread count, because how the work is cut depends on the shape alone.
 *
 * <p>Contract of every method: arguments are validated before anything is written, and invalid ones
 * throw {@link NullPointerException}, {@link IllegalArgumentException},
 * {@link IndexOutOfBoundsException} or {@link IllegalStateException} naming the argument. Every tensor
 * of a call has x's shape, layout included. The output may be the input itself (same array and offset,
 * or the same memory) for in-place operation; a partial overlap is rejected. Instances are immutable and thread-safe; each call uses per-thread
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
     * Per-channel count, mean and M2 of {@code x} into {@code out} (overwritten).
     *
     * @param out statistics with as many channels as x
     */
    public void statistics(TensorView x, ChannelStatistics out) {
        Checks.view(x, "x", false);
        Checks.notNull(out, "out");
        Checks.statistics(out, x.shape().channels(), "out");
        KernelCall call = begin(x.shape());
        Engine.bind(call.x, x, x.segmentOrNull() != null);
        out.count = call.statistics(out.mean, out.m2);
    }

    // ---------------------------------------------------------------- forward training

    /**
     * Forward pass in training mode: normalizes each channel with its batch mean and biased batch
     * variance, {@code y = (x - mean) / sqrt(var + eps) * weight + bias}, then the configured activation.
     * y may be x (in place).
     *
     * @param config eps and activation
     * @param affine weight and bias, or {@link Affine#none()}
     */
    public void forwardTraining(NormConfig config, TensorView x, TensorView y, Affine affine) {
        forwardTrainingChecked(config, null, x, y, affine, null, null);
    }

    /**
     * As {@link #forwardTraining(NormConfig, TensorView, TensorView, Affine)}, keeping the batch mean
     * and {@code 1 / sqrt(var + eps)} in {@code save} for the backward pass.
     */
    public void forwardTraining(NormConfig config, TensorView x, TensorView y, Affine affine, SavedStatistics save) {
        Checks.notNull(save, "save");
        forwardTrainingChecked(config, null, x, y, affine, save, null);
    }

    /**
     * As {@link #forwardTraining(NormConfig, TensorView, TensorView, Affine, SavedStatistics)}, and the
     * batch statistics (count, mean, M2 in double) into {@code stats}, e.g. for running statistics.
     */
    public void forwardTraining(NormConfig config, TensorView x, TensorView y, Affine affine, SavedStatistics save,
                                ChannelStatistics stats) {
        Checks.notNull(save, "save");
        Checks.notNull(stats, "stats");
        forwardTrainingChecked(config, null, x, y, affine, save, stats);
    }

    /**
     * Forward pass in training mode with batch statistics computed beforehand by
     * {@link #statistics}: possibly merged over several shards of a batch
     * ({@link ChannelStatistics#merge}, synchronized batch norm), or checked by the caller before
     * anything is written. Normalizes with their mean and biased variance.
     *
     * @param batchStatistics the batch's statistics, as many channels as x, count at least 1
     */
    public void forwardWithStatistics(NormConfig config, ChannelStatistics batchStatistics, TensorView x,
                                      TensorView y, Affine affine) {
        Checks.notNull(batchStatistics, "batchStatistics");
        forwardTrainingChecked(config, batchStatistics, x, y, affine, null, null);
    }

    /**
     * As {@link #forwardWithStatistics(NormConfig, ChannelStatistics, TensorView, TensorView, Affine)},
     * keeping the mean and {@code 1 / sqrt(var + eps)} in {@code save} for the backward pass.
     */
    public void forwardWithStatistics(NormConfig config, ChannelStatistics batchStatistics, TensorView x,
                                      TensorView y, Affine affine, SavedStatistics save) {
        Checks.notNull(batchStatistics, "batchStatistics");
        Checks.notNull(save, "save");
        forwardTrainingChecked(config, batchStatistics, x, y, affine, save, null);
    }

    private void forwardTrainingChecked(NormConfig config, ChannelStatistics given, TensorView x, TensorView y,
                                        Affine affine, SavedStatistics save, ChannelStatistics stats) {
        Checks.notNull(config, "config");
        Checks.view(x, "x", false);
        Checks.view(y, "y", true);
        Checks.sameShape(x, y, "y");
        int channels = x.shape().channels();
        if (given != null) {
            Checks.statistics(given, channels, "batchStatistics");
            if (given.count() < 1) {
                throw new IllegalArgumentException("batchStatistics must hold at least one element per channel, got "
                        + "count " + given.count());
            }
        }
        Checks.affine(affine, channels, "affine");
        Checks.saved(save, channels, "save");
        Checks.statistics(stats, channels, "stats");
        boolean segments = Checks.anySegment(x, y, null, null);
        Checks.noPartialOverlap(x, "x", y, "y", segments);
        KernelCall call = begin(x.shape());
        Engine.bind(call.x, x, segments);
        Engine.bind(call.y, y, segments);
        float[] saveMean = save == null ? null : save.mean();
        float[] saveInvStd = save == null ? null : save.invStd();
        if (given != null) {
            call.forwardWithStatistics(given.mean, given.m2, given.count, affine.weightOrNull(), affine.biasOrNull(),
                    config.eps(), floor(config.activation()), saveMean, saveInvStd);
        } else {
            long n = call.forwardTraining(affine.weightOrNull(), affine.biasOrNull(), config.eps(),
                    floor(config.activation()), stats == null ? null : stats.mean, stats == null ? null : stats.m2,
                    saveMean, saveInvStd);
            if (stats != null) {
                stats.count = n;
            }
        }
    }

    // ---------------------------------------------------------------- forward inference

    /**
     * Forward pass with fixed statistics (inference, or frozen batch norm):
     * {@code y = (x - mean[c]) * scale[c] + bias[c]} with {@code scale = weight / sqrt(var + eps)}
     * computed once per call and channel; then the configured activation. y may be x (in place).
     *
     * @param statistics the running mean and variance, each {@code var >= 0}
     * @param affine weight and bias, or {@link Affine#none()}
     */
    public void forwardInference(NormConfig config, RunningStatistics statistics, TensorView x, TensorView y,
                                 Affine affine) {
        Checks.notNull(config, "config");
        Checks.notNull(statistics, "statistics");
        Checks.view(x, "x", false);
        Checks.view(y, "y", true);
        Checks.sameShape(x, y, "y");
        int channels = x.shape().channels();
        Checks.perChannel(statistics.mean(), channels, "statistics.mean", false);
        Checks.perChannel(statistics.var(), channels, "statistics.var", false);
        statistics.checkVariances("statistics.var");
        Checks.affine(affine, channels, "affine");
        boolean segments = Checks.anySegment(x, y, null, null);
        Checks.noPartialOverlap(x, "x", y, "y", segments);
        KernelCall call = begin(x.shape());
        Engine.bind(call.x, x, segments);
        Engine.bind(call.y, y, segments);
        call.forwardInference(statistics.mean(), statistics.var(), affine.weightOrNull(), affine.biasOrNull(),
                config.eps(), floor(config.activation()));
    }

    // ---------------------------------------------------------------- backward

    /**
     * Backward pass of a forward without a fused activation (or whose ReLU the caller handles): from
     * the output gradient dy, the input gradient dx, and the parameter gradients into {@code affineGrad}
     * ({@code dweight = sum(dy * xhat)}, {@code dbias = sum(dy)} per channel, overwritten, not accumulated;
     * {@code xhat = (x - mean) * invStd}). The two sums are taken in one sweep over dy and x. dx may be dy
     * (in place).
     *
     * @param mode whether the forward used the batch's statistics (training) or fixed ones
     * @param saved the forward's mean and invStd ({@link GradientMode#BATCH_STATISTICS}), or the running
     *     ones ({@link SavedStatistics#setFromRunning})
     * @param affine the forward's weight (its bias is not used), or {@link Affine#none()}
     * @param affineGrad receives the weight and bias gradients, those it has; {@link Affine#none()} for neither
     * @throws IllegalArgumentException if {@code config} fuses a ReLU: its gradient needs the forward's
     *     output, passed to {@link #backward(NormConfig, GradientMode, SavedStatistics, TensorView,
     *     TensorView, TensorView, TensorView, Affine, Affine)}
     */
    public void backward(NormConfig config, GradientMode mode, SavedStatistics saved, TensorView x, TensorView dy,
                         TensorView dx, Affine affine, Affine affineGrad) {
        requireNoRelu(config);
        Checks.view(dx, "dx", true);
        backwardChecked(config, mode, saved, x, null, dy, dx, affine, affineGrad);
    }

    /**
     * As {@link #backward(NormConfig, GradientMode, SavedStatistics, TensorView, TensorView, TensorView,
     * Affine, Affine)}, for a forward that may have fused a ReLU: there the gradient is dy masked to 0
     * wherever the forward's output {@code y} was not positive.
     *
     * @param y the forward's output (read only when the configuration fuses a ReLU)
     */
    public void backward(NormConfig config, GradientMode mode, SavedStatistics saved, TensorView x, TensorView y,
                         TensorView dy, TensorView dx, Affine affine, Affine affineGrad) {
        Checks.notNull(config, "config");
        Checks.view(y, "y", false);
        Checks.view(dx, "dx", true);
        backwardChecked(config, mode, saved, x, y, dy, dx, affine, affineGrad);
    }

    /**
     * The parameter gradients alone (no dx), for a forward without a fused activation: into
     * {@code affineGrad}, as {@link #backward(NormConfig, GradientMode, SavedStatistics, TensorView,
     * TensorView, TensorView, Affine, Affine)} computes them.
     */
    public void parameterGradients(NormConfig config, GradientMode mode, SavedStatistics saved, TensorView x,
                                   TensorView dy, Affine affineGrad) {
        requireNoRelu(config);
        backwardChecked(config, mode, saved, x, null, dy, null, Affine.none(), affineGrad);
    }

    /** As {@link #parameterGradients(NormConfig, GradientMode, SavedStatistics, TensorView, TensorView, Affine)}, with the forward's output for a fused ReLU. */
    public void parameterGradients(NormConfig config, GradientMode mode, SavedStatistics saved, TensorView x,
                                   TensorView y, TensorView dy, Affine affineGrad) {
        Checks.notNull(config, "config");
        Checks.view(y, "y", false);
        backwardChecked(config, mode, saved, x, y, dy, null, Affine.none(), affineGrad);
    }

    private static void requireNoRelu(NormConfig config) {
        Checks.notNull(config, "config");
        if (config.activation() == Activation.RELU) {
            throw new IllegalArgumentException("config fuses a ReLU, whose gradient needs the forward's output y: "
                    + "pass y too");
        }
    }

    private void backwardChecked(NormConfig config, GradientMode mode, SavedStatistics saved, TensorView x,
                                 TensorView y, TensorView dy, TensorView dx, Affine affine, Affine affineGrad) {
        Checks.notNull(mode, "mode");
        Checks.notNull(saved, "saved");
        Checks.view(x, "x", false);
        Checks.view(dy, "dy", false);
        Checks.sameShape(x, dy, "dy");
        boolean relu = config.activation() == Activation.RELU;
        if (y != null) {
            Checks.sameShape(x, y, "y");
        }
        if (dx != null) {
            Checks.sameShape(x, dx, "dx");
        }
        int channels = x.shape().channels();
        Checks.saved(saved, channels, "saved");
        Checks.affine(affine, channels, "affine");
        Checks.affine(affineGrad, channels, "affineGrad");
        TensorView r = relu ? y : null;
        boolean segments = Checks.anySegment(x, dy, r, dx);
        if (dx != null) {
            Checks.noPartialOverlap(dy, "dy", dx, "dx", segments);
            Checks.noPartialOverlap(x, "x", dx, "dx", segments);
            if (r != null) {
                Checks.noPartialOverlap(r, "y", dx, "dx", segments);
            }
        }
        KernelCall call = begin(x.shape());
        Engine.bind(call.dy, dy, segments);
        Engine.bind(call.x, x, segments);
        Engine.bind(call.relu, r, segments);
        Engine.bind(call.dx, dx, segments);
        call.backward(affine.weightOrNull(), saved.mean(), saved.invStd(), mode == GradientMode.BATCH_STATISTICS,
                affineGrad.weightOrNull(), affineGrad.biasOrNull());
    }

    private static float floor(Activation activation) {
        return activation == Activation.RELU ? 0f : Float.NEGATIVE_INFINITY;
    }

    @Override
    public String toString() {
        return "BatchNorm[" + implementation() + (pool == null ? "" : ", " + pool.threads() + " threads") + "]";
    }
}
