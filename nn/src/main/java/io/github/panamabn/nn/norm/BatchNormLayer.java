package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;

/**
 * A trainable batch-norm layer with PyTorch's semantics: parameters {@code weight} (gamma) and
 * {@code bias} (beta) with their gradients; buffers {@code running_mean}, {@code running_var} and
 * {@code num_batches_tracked}; train and eval modes. Subclasses fix the spatial rank
 * ({@link BatchNorm1d}, {@link BatchNorm2d}, {@link BatchNorm3d}); the layout (channels-first or
 * channels-last) comes with each call's {@link TensorShape}.
 *
 * <p>In training mode, forward normalizes with the batch mean and the biased batch variance and
 * updates the running statistics with the unbiased one (or the biased one for Keras options); a
 * batch with one value per channel is an error. In eval mode it normalizes with the running
 * statistics, or with the batch's own when the layer tracks none.
 *
 * <p>Tensors come as {@link TensorView}s (a {@code float[]} or a {@code MemorySegment}, heap or
 * native, whole or a window) or as {@code float[]}s whose length must be the shape's element count.
 * Errors name the layer: its class and options, and the name given with {@link #setName}.
 *
 * <p>Threads: eval-mode {@link #forward} writes nothing in the layer and allocates nothing per
 * call, so many threads may run it at once on one layer. Training-mode forward, {@link #backward}
 * and {@link #loadStateDict} change the layer: two threads in them at once are detected and the
 * later one gets an {@link IllegalStateException} (nothing changed). Mode switches and direct
 * writes to the live parameter arrays are not guarded: do them while no other thread uses the layer.
 *
 * <p>Weight, bias, gradients, name, modes and state files are the family's ({@link NormLayer}).
 *
 * <p>Non-finite data: a training batch with NaN or infinite values, or whose statistics are beyond
 * what the float running statistics hold (values from about 1e19 up), never reaches the running
 * statistics; by default it is an error ({@link NonFinitePolicy}).
 */
public abstract class BatchNormLayer extends NormLayer {
    private final int numFeatures;
    private final BatchNormOptions options;
    private final Activation activation;
    private final NormConfig config;
    private volatile BatchNorm kernels;

    private long skippedBatches;
    private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.THROW;

    // Saved by a training-mode forward for its backward; scratch of backward.
    private final ChannelStatistics batchStats;
    private final SavedStatistics saved;
    private boolean hasSavedStatistics;
    // What an eval-mode backward differentiates with.
    private final SavedStatistics evalStatistics;
    private final ChannelStatistics evalBatchStats;
    private final RunningStatistics running;

    /**
     * @param numFeatures C, the number of channels
     * @param options eps, momentum, affine, running statistics
     * @param activation fused activation on the output (IDENTITY for plain batch norm)
     */
    protected BatchNormLayer(int numFeatures, BatchNormOptions options, Activation activation) {
        super(checked(numFeatures, options, activation), options.affine(), options.affine(),
                options.trackRunningStats());
        this.numFeatures = numFeatures;
        this.options = options;
        this.activation = activation;
        this.config = new NormConfig(options.eps(), activation);
        this.kernels = BatchNorm.get();
        this.batchStats = new ChannelStatistics(numFeatures);
        this.saved = new SavedStatistics(numFeatures);
        this.evalStatistics = new SavedStatistics(numFeatures);
        this.evalBatchStats = new ChannelStatistics(numFeatures);
        this.running = options.trackRunningStats() ? RunningStatistics.of(runningMean, runningVar) : null;
    }

    /** numFeatures, once it and the other arguments are checked (before the base allocates anything). */
    private static int checked(int numFeatures, BatchNormOptions options, Activation activation) {
        if (numFeatures <= 0) {
            throw new IllegalArgumentException("numFeatures must be positive, got " + numFeatures);
        }
        if (options == null || activation == null) {
            throw new NullPointerException("options and activation must not be null");
        }
        return numFeatures;
    }

    /** Throws unless {@code rank} spatial dimensions are what this layer takes. */
    abstract void checkSpatialRank(TensorShape shape);

    /** C. */
    public int numFeatures() {
        return numFeatures;
    }

    /** The options this layer was built with. */
    public BatchNormOptions options() {
        return options;
    }

    /** The fused activation. */
    public Activation activation() {
        return activation;
    }

    /**
     * Names this layer (e.g. its key in a model, {@code "layer1.0.bn1"}): errors and {@link #toString()}
     * then say it.
     */
    @Override
    public BatchNormLayer setName(String name) {
        super.setName(name);
        return this;
    }

    /** The kernels this layer runs on ({@link BatchNorm#get()} unless set). */
    public BatchNorm kernels() {
        return kernels;
    }

    /**
     * Runs this layer on {@code kernels}, for example {@code BatchNorm.get().withThreads(4)} to spread each
     * call over four threads. Results are the same bits for any thread count of the same implementation.
     */
    public BatchNormLayer setKernels(BatchNorm kernels) {
        if (kernels == null) {
            throw new NullPointerException("kernels must not be null");
        }
        this.kernels = kernels;
        return this;
    }

    /** What a training batch with non-finite statistics does (default {@link NonFinitePolicy#THROW}). */
    public NonFinitePolicy nonFinitePolicy() {
        return nonFinitePolicy;
    }

    /** Sets what a training batch with non-finite statistics does. */
    public BatchNormLayer setNonFinitePolicy(NonFinitePolicy policy) {
        if (policy == null) {
            throw new NullPointerException("policy must not be null");
        }
        nonFinitePolicy = policy;
        return this;
    }

    /** Training batches whose running-statistics update was skipped as non-finite ({@link NonFinitePolicy#SKIP_UPDATE}). */
    public long skippedBatches() {
        return skippedBatches;
    }

    @Override
    public BatchNormLayer train() {
        super.train();
        return this;
    }

    @Override
    public BatchNormLayer eval() {
        super.eval();
        return this;
    }

    /** Running statistics reset, weight 1, bias 0, gradients 0. */
    @Override
    public void resetParameters() {
        resetRunningStats();
        super.resetParameters();
        zeroGrad();
    }

    @Override
    protected void checkInput(TensorShape shape) {
        checkSpatialRank(shape);
        if (shape.channels() != numFeatures) {
            throw new IllegalArgumentException(this + " expects " + numFeatures + " channels, got input of shape "
                    + shape);
        }
    }

    /** Checks x's presence and shape, and that the other views present have its shape; returns it. */
    private TensorShape checkViews(TensorView x, TensorView a, TensorView b, TensorView c) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkShape(x.shape());
        sameShape(x, a, "y");
        sameShape(x, b, "dy");
        sameShape(x, c, "dx");
        return x.shape();
    }

    private void sameShape(TensorView x, TensorView v, String name) {
        if (v != null && !v.shape().equals(x.shape())) {
            throw new IllegalArgumentException(this + ": " + name + " has shape " + v.shape() + " but x has " + x.shape());
        }
    }

    private boolean usesBatchStatistics() {
        return isTraining() || runningMean == null;
    }

    /**
     * Forward pass of x into y. In eval mode y may be x (in place); in training mode it may not, as
     * backward needs x.
     *
     * @throws IllegalArgumentException for a wrong shape, or one value per channel in training mode
     */
    @Override
    public void forward(TensorView x, TensorView y) {
        TensorShape shape = checkViews(x, y, null, null);
        if (y == null) {
            throw new NullPointerException(this + ": y must not be null");
        }
        BatchNorm kernels = this.kernels;
        if (!usesBatchStatistics()) {
            kernels.forwardInference(config, running, x, y, affine);
            return;
        }
        if (!isTraining()) {
            // Eval without running statistics: the batch's own, and nothing saved (so eval stays read-only).
            kernels.forwardTraining(config, x, y, affine);
            return;
        }
        if (shape.perChannelCount() <= 1) {
            throw new IllegalArgumentException(this + " expects more than 1 value per channel when training, got "
                    + "input of shape " + shape);
        }
        if (sameStorage(x, y)) {
            throw new IllegalArgumentException(this + ": in-place forward (y is x) is not allowed in training mode: "
                    + "backward needs x");
        }
        enter();
        try {
            kernels.statistics(x, batchStats);
            int bad = firstUnfitChannel();
            if (bad >= 0 && nonFinitePolicy == NonFinitePolicy.THROW) {
                String values = " (mean " + batchStats.mean(bad) + ", variance " + batchStats.variance(bad) + ")";
                throw new NonFiniteBatchException(this + ": the batch's statistics " + (isFinite(bad)
                        ? "in channel " + bad + values + " are beyond float's range, so the running statistics "
                                + "cannot hold them"
                        : "are not finite in channel " + bad + values + ": the input has NaN or infinite values")
                        + "; nothing was written or updated");
            }
            kernels.forwardWithStatistics(config, batchStats, x, y, affine, saved);
            hasSavedStatistics = true;
            if (runningMean != null) {
                if (bad >= 0) {
                    skippedBatches++;
                } else {
                    updateRunningStatistics();
                }
            }
        } finally {
            exit();
        }
    }

    /** Whether two views start at the same float of the same storage. */
    private static boolean sameStorage(TensorView a, TensorView b) {
        if (a.isArray() != b.isArray() || a.offset() != b.offset()) {
            return false;
        }
        if (a.isArray()) {
            return a.array() == b.array();
        }
        return a.segment().isNative() == b.segment().isNative() && a.segment().address() == b.segment().address()
                && (a.segment().isNative() || a.segment().heapBase().equals(b.segment().heapBase()));
    }

    private boolean isFinite(int c) {
        return Double.isFinite(batchStats.mean(c)) && Double.isFinite(batchStats.m2(c));
    }

    /**
     * The first channel whose batch statistics are not finite or, with running statistics, would not
     * fit them: a mean or variance beyond float's range, or an updated running value that is; -1 if none.
     */
    private int firstUnfitChannel() {
        double m = updateWeight(numBatchesTracked + 1);
        for (int c = 0; c < numFeatures; c++) {
            if (!isFinite(c)) {
                return c;
            }
            if (runningMean != null) {
                double mean = batchStats.mean(c);
                double var = runningVariance(c);
                if (!fitsFloat(mean) || !fitsFloat(var) || !fitsFloat(blend(runningMean[c], mean, m))
                        || !fitsFloat(blend(runningVar[c], var, m))) {
                    return c;
                }
            }
        }
        return -1;
    }

    private static boolean fitsFloat(double v) {
        return Math.abs(v) <= Float.MAX_VALUE;
    }

    /** The weight of the new batch in the running statistics' update that makes it the n-th tracked. */
    private double updateWeight(long n) {
        return options.momentum() == null ? 1.0 / n : options.momentum();
    }

    private double runningVariance(int c) {
        return options.unbiasedRunningVariance() ? batchStats.unbiasedVariance(c) : batchStats.variance(c);
    }

    private static double blend(double old, double batch, double m) {
        return (1 - m) * old + m * batch;
    }

    private void updateRunningStatistics() {
        numBatchesTracked++;
        double m = updateWeight(numBatchesTracked);
        for (int c = 0; c < numFeatures; c++) {
            runningMean[c] = (float) blend(runningMean[c], batchStats.mean(c), m);
            runningVar[c] = (float) blend(runningVar[c], runningVariance(c), m);
        }
    }

    /**
     * Backward pass on arrays of exactly {@code shape.elementCount()} floats; {@code dx} null skips the
     * input gradient (a first layer). See {@link #backward(TensorView, TensorView, TensorView, TensorView)}.
     */
    @Override
    public void backward(TensorShape shape, float[] x, float[] y, float[] dy, float[] dx) {
        checkShape(shape);
        ArrayViews views = ArrayViews.get();
        try {
            TensorView xv = views.x(this, shape, x);
            TensorView yv = y == null && activation != Activation.RELU ? xv : views.y(this, shape, y);
            TensorView dyv = views.dy(this, shape, dy);
            if (dx == null) {
                backwardParameters(xv, yv, dyv);
            } else {
                backward(xv, yv, dyv, views.dx(this, shape, dx));
            }
        } finally {
            views.release();
        }
    }

    /**
     * Backward pass of a layer without a fused ReLU: as {@link #backward(TensorView, TensorView, TensorView,
     * TensorView)}, whose y it does not need; dx null skips the input gradient.
     *
     * @throws IllegalArgumentException with a fused ReLU, whose gradient needs the forward's output
     */
    @Override
    public void backward(TensorView x, TensorView dy, TensorView dx) {
        if (activation == Activation.RELU) {
            throw new IllegalArgumentException(this + ": the fused ReLU's gradient needs the forward's output: "
                    + "pass y too (backward(x, y, dy, dx))");
        }
        backwardChecked(x, x, dy, dx);
    }

    /**
     * Backward pass: given the forward's input x, its output y (read only with a fused ReLU) and the
     * output gradient dy, writes the input gradient into dx (may be dy) and adds the parameter
     * gradients to {@link #weightGrad()} and {@link #biasGrad()}. In training mode it differentiates
     * the last training-mode forward (batch statistics); in eval mode the forward with running
     * statistics.
     *
     * @throws IllegalStateException in training mode before any training-mode forward
     */
    public void backward(TensorView x, TensorView y, TensorView dy, TensorView dx) {
        if (dx == null) {
            throw new NullPointerException(this + ": dx must not be null (backwardParameters skips it)");
        }
        backwardChecked(x, y, dy, dx);
    }

    /** As {@link #backward(TensorView, TensorView, TensorView, TensorView)} without the input gradient. */
    public void backwardParameters(TensorView x, TensorView y, TensorView dy) {
        backwardChecked(x, y, dy, null);
    }

    private void backwardChecked(TensorView x, TensorView y, TensorView dy, TensorView dx) {
        TensorShape shape = checkViews(x, y, dy, dx);
        if (y == null || dy == null) {
            throw new NullPointerException(this + ": y and dy must not be null");
        }
        enter();
        try {
            backwardEntered(shape, x, y, dy, dx);
        } finally {
            exit();
        }
    }

    private void backwardEntered(TensorShape shape, TensorView x, TensorView y, TensorView dy, TensorView dx) {
        BatchNorm kernels = this.kernels;
        boolean batch = usesBatchStatistics();
        boolean training = isTraining();
        if (training && !hasSavedStatistics) {
            throw new IllegalStateException(this + ": backward in training mode needs a training-mode forward first");
        }
        SavedStatistics statistics = saved;
        if (!training) {
            // The eval forward's statistics, apart from what the last training forward saved.
            statistics = evalStatistics;
            if (runningMean != null) {
                statistics.setFromRunning(running, options.eps());
            } else {
                kernels.statistics(x, evalBatchStats);
                for (int c = 0; c < numFeatures; c++) {
                    statistics.mean()[c] = (float) evalBatchStats.mean(c);
                    statistics.invStd()[c] = (float) (1 / Math.sqrt(evalBatchStats.variance(c) + options.eps()));
                }
            }
        }
        GradientMode mode = batch ? GradientMode.BATCH_STATISTICS : GradientMode.FIXED_STATISTICS;
        if (dx == null) {
            kernels.parameterGradients(config, mode, statistics, x, y, dy, affineScratch);
        } else {
            kernels.backward(config, mode, statistics, x, y, dy, dx, affine, affineScratch);
        }
        accumulateGradients();
    }

    // ---------------------------------------------------------------- state

    /**
     * Sets the running statistics to the exact statistics of every element of {@code batches} taken
     * together, as if they were one batch: each batch's count, mean and M2 (in double) merged by Chan et
     * al.'s formula, then {@code running_mean} the mean and {@code running_var} the unbiased variance (the
     * biased one with Keras options); {@code num_batches_tracked} becomes the number of batches. What
     * PreciseBN (fvcore, detectron2) and {@code torch.optim.swa_utils.update_bn} approximate by averaging
     * per-batch statistics, computed exactly: the statistics the model is then served with are those of
     * the data, whatever the batch sizes. Run it after training, on the training data (or a large sample),
     * in any mode; the weights are not touched.
     *
     * <p>Everything is read and checked before anything is written: on an error the layer is unchanged.
     *
     * @param batches at least one, each with this layer's channels (any batch size, layout or storage)
     * @throws IllegalStateException without running statistics
     * @throws NonFiniteBatchException if the data has NaN or infinite values, or statistics beyond float
     */
    public void recomputeRunningStatistics(Iterable<TensorView> batches) {
        if (runningMean == null) {
            throw new IllegalStateException(this + " tracks no running statistics");
        }
        if (batches == null) {
            throw new NullPointerException(this + ": batches must not be null");
        }
        enter();
        try {
            ChannelStatistics total = new ChannelStatistics(numFeatures);
            ChannelStatistics one = new ChannelStatistics(numFeatures);
            long count = 0;
            for (TensorView batch : batches) {
                checkViews(batch, null, null, null);
                kernels.statistics(batch, one);
                total.merge(one);
                count++;
            }
            if (count == 0) {
                throw new IllegalArgumentException(this + ": batches must hold at least one batch");
            }
            if (total.count() < 2 && options.unbiasedRunningVariance()) {
                throw new IllegalArgumentException(this + ": the batches hold 1 value per channel, which has no "
                        + "unbiased variance");
            }
            float[] mean = new float[numFeatures];
            float[] var = new float[numFeatures];
            for (int c = 0; c < numFeatures; c++) {
                double v = options.unbiasedRunningVariance() ? total.unbiasedVariance(c) : total.variance(c);
                if (!Double.isFinite(total.mean(c)) || !Double.isFinite(v) || !fitsFloat(total.mean(c)) || !fitsFloat(v)) {
                    throw new NonFiniteBatchException(this + ": the batches' statistics in channel " + c + " (mean "
                            + total.mean(c) + ", variance " + v + ") are not finite floats; nothing was changed");
                }
                mean[c] = (float) total.mean(c);
                var[c] = (float) v;
            }
            System.arraycopy(mean, 0, runningMean, 0, numFeatures);
            System.arraycopy(var, 0, runningVar, 0, numFeatures);
            numBatchesTracked = count;
        } finally {
            exit();
        }
    }

    /**
     * A thread-safe, read-only copy for serving: the running statistics and affine parameters now, on
     * this layer's kernels.
     */
    public FrozenBatchNorm freeze() {
        if (runningMean == null) {
            throw new IllegalStateException("a layer without running statistics cannot be frozen");
        }
        return new FrozenBatchNorm(runningMean, runningVar, weight, bias, options.eps(), activation, kernels);
    }

    @Override
    protected String describe() {
        return getClass().getSimpleName() + "(" + numFeatures + ", eps=" + options.eps() + ", momentum="
                + options.momentum() + ", affine=" + options.affine() + ", track_running_stats="
                + options.trackRunningStats() + (activation == Activation.RELU ? ", fused ReLU" : "") + ")";
    }
}
