package io.github.panamabn.kernels;

import io.github.panamabn.kernels.internal.NormCall;

/**
 * Layer-normalization kernels: each sample's trailing dimensions (PyTorch's {@code normalized_shape})
 * normalized with their own mean and biased variance,
 * {@code y = (x - mean) / sqrt(var + eps) * weight + bias}, weight and bias per element of the
 * normalized dimensions; statistics, forward and backward, on {@link TensorView}s of {@code float[]}s
 * or {@link java.lang.foreign.MemorySegment}s.
 *
 * <p>{@code normalizedDims} counts the trailing dimensions of x's logical shape (N, C, spatial...)
 * normalized together: for {@code TensorShape.ncl(batch, tokens, hidden)}, 1 normalizes each token's
 * {@code hidden} features (a transformer's LayerNorm); for {@code nchw(n, c, h, w)}, 3 normalizes each
 * sample. Those dimensions are contiguous in memory, so x's layout must be channels-first (or have no
 * spatial dimension); to normalize a channels-last tensor over its channels, view its memory as
 * {@code TensorShape.nc(n * h * w, c)}.
 *
 * <p>The statistics are batch norm's: Welford's update in float on {@code x - pivot} in blocks of at
 * most 64 updates per accumulator, merged in double with Chan's formula, rows whose float arithmetic
 * failed recomputed in double; never {@code E[x^2] - E[x]^2}, so a constant row gives exactly
 * {@code bias}. Instances are immutable and thread-safe; a call allocates nothing once its thread has
 * seen a tensor of that size, and gives the same bits on any number of threads. Every argument is
 * checked before anything is written; {@link BatchNorm}'s contract holds (in place allowed, partial
 * overlap refused). The {@link NormConfig}'s activation must be {@link Activation#IDENTITY}.
 */
public final class LayerNorm {
    /** The single-threaded instance of each implementation, made when first asked for. */
    private static final LayerNorm[] SINGLE = new LayerNorm[Implementation.values().length];

    private final Engine engine;

    private LayerNorm(Engine engine) {
        this.engine = engine;
    }

    /** The implementation selected for this JVM, as {@link BatchNorm#get()} selects it. */
    public static LayerNorm get() {
        return of(Engine.selected().backend.implementation());
    }

    /** A specific implementation; throws {@link UnsupportedOperationException} if it cannot run here. */
    public static LayerNorm of(Implementation implementation) {
        Checks.notNull(implementation, "implementation");
        LayerNorm single = SINGLE[implementation.ordinal()];
        if (single == null) {
            // a race makes two equal instances, one of them kept
            single = new LayerNorm(Engine.of(implementation));
            SINGLE[implementation.ordinal()] = single;
        }
        return single;
    }

    /** These kernels on up to {@code threads} threads, as {@link BatchNorm#withThreads}. */
    public LayerNorm withThreads(int threads) {
        return new LayerNorm(engine.withThreads(threads));
    }

    /** The most threads a call runs on. */
    public int threads() {
        return engine.threads();
    }

    /** The implementation this instance runs. */
    public Implementation implementation() {
        return engine.backend.implementation();
    }

    /**
     * The number of floats normalized together: the product of x's last {@code normalizedDims}
     * logical dimensions.
     *
     * @throws IllegalArgumentException if normalizedDims is not in [1, rank] or the layout is channels-last
     */
    public static long features(TensorShape shape, int normalizedDims) {
        Checks.notNull(shape, "shape");
        int rank = shape.spatialRank() + 2;
        if (normalizedDims < 1 || normalizedDims > rank) {
            throw new IllegalArgumentException("normalizedDims must be in [1, " + rank + "] for shape " + shape
                    + ", got " + normalizedDims);
        }
        if (shape.layout() == Layout.CHANNELS_LAST && shape.spatialSize() > 1) {
            throw new IllegalArgumentException("layer norm normalizes trailing dimensions, contiguous in memory, but "
                    + shape + " is channels-last: view its memory as channels-first (e.g. TensorShape.nc(rows, "
                    + "channels) to normalize over the channels)");
        }
        long features = 1;
        for (int d = rank - normalizedDims; d < rank; d++) {
            features *= d == 0 ? shape.batch() : d == 1 ? shape.channels() : shape.spatialDim(d - 2);
        }
        return features;
    }

    /** The number of rows normalized separately: x's element count over {@link #features}. */
    public static long rows(TensorShape shape, int normalizedDims) {
        return shape.elementCount() / features(shape, normalizedDims);
    }

    /**
     * Each row's count, mean and M2 into {@code out} (overwritten), which has one "channel" per row.
     */
    public void statistics(int normalizedDims, TensorView x, ChannelStatistics out) {
        Checks.view(x, "x", false);
        long features = features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Checks.notNull(out, "out");
        Checks.statistics(out, rows, "out");
        engine.begin(x, null, null, null).rowStatistics(rows, features, out.mean, out.m2);
        out.count = features;
    }

    /**
     * Forward: each row normalized with its mean and biased variance, then {@code * weight + bias}
     * per feature. y may be x (in place).
     *
     * @param affine weight and bias with one value per feature, weight alone, or {@link Affine#none()}
     */
    public void forward(NormConfig config, int normalizedDims, TensorView x, TensorView y, Affine affine) {
        forwardChecked(config, normalizedDims, x, y, affine, null);
    }

    /**
     * As {@link #forward(NormConfig, int, TensorView, TensorView, Affine)}, keeping each row's mean and
     * {@code 1 / sqrt(var + eps)} in {@code save} (one "channel" per row) for the backward pass.
     */
    public void forward(NormConfig config, int normalizedDims, TensorView x, TensorView y, Affine affine,
                        SavedStatistics save) {
        Checks.notNull(save, "save");
        forwardChecked(config, normalizedDims, x, y, affine, save);
    }

    private void forwardChecked(NormConfig config, int normalizedDims, TensorView x, TensorView y, Affine affine,
                                SavedStatistics save) {
        Engine.requireNoActivation(config, "layer norm");
        Checks.notNull(x, "x");
        long features = features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Engine.outputs(x, Checks.notNull(y, "y"), null, null);
        affine(affine, features);
        Engine.saved(save, rows, "row", "save");
        engine.begin(x, y, null, null).layerForward(rows, features, affine.weightOrNull(), affine.biasOrNull(),
                config.eps(), save == null ? null : save.mean(), save == null ? null : save.invStd());
    }

    /**
     * Fused residual add and layer norm, as pre-norm transformer blocks use them: {@code h = x + residual}
     * written to h, and {@code y} = the layer norm of h, in one sweep over the rows while each is in cache
     * (four tensors' traffic instead of six). h may be x or residual (in place), and y may be x or
     * residual, but not h. For training, {@link #backward} on h with {@code save} gives the norm's
     * gradient; the residual stream's own gradient adds to it outside.
     */
    public void forwardResidual(NormConfig config, int normalizedDims, TensorView x, TensorView residual, TensorView h,
                                TensorView y, Affine affine) {
        forwardResidualChecked(config, normalizedDims, x, residual, h, y, affine, null);
    }

    /** As the call without {@code save}, keeping the mean and invStd of h's rows in it for backward. */
    public void forwardResidual(NormConfig config, int normalizedDims, TensorView x, TensorView residual, TensorView h,
                                TensorView y, Affine affine, SavedStatistics save) {
        Checks.notNull(save, "save");
        forwardResidualChecked(config, normalizedDims, x, residual, h, y, affine, save);
    }

    private void forwardResidualChecked(NormConfig config, int normalizedDims, TensorView x, TensorView residual,
                                        TensorView h, TensorView y, Affine affine, SavedStatistics save) {
        Engine.requireNoActivation(config, "layer norm");
        Checks.notNull(x, "x");
        long features = features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Engine.residualOutputs(x, residual, h, y);
        affine(affine, features);
        Engine.saved(save, rows, "row", "save");
        engine.beginResidual(x, residual, h, y).layerForward(rows, features, affine.weightOrNull(),
                affine.biasOrNull(), config.eps(), save == null ? null : save.mean(),
                        save == null ? null : save.invStd());
    }

    private static void affine(Affine affine, long features) {
        Engine.parameters(affine, features, "feature", "affine");
        if (affine.hasBias() && !affine.hasWeight()) {
            throw new IllegalArgumentException("layer norm takes weight and bias, weight alone, or neither; "
                    + "affine has a bias without a weight");
        }
    }

    /**
     * Backward from the output gradient dy: the input gradient dx and the per-feature gradients into
     * {@code affineGrad} ({@code dweight = sum over rows of dy * xhat}, {@code dbias = sum(dy)}, overwritten).
     * dx may be dy (in place).
     *
     * @param saved the forward's per-row mean and invStd
     * @param affine the forward's weight (its bias is not used), or {@link Affine#none()}
     * @param affineGrad receives the gradients it has arrays for; {@link Affine#none()} for neither
     */
    public void backward(NormConfig config, int normalizedDims, SavedStatistics saved, TensorView x, TensorView dy,
                         TensorView dx, Affine affine, Affine affineGrad) {
        Checks.notNull(dx, "dx");
        backwardChecked(config, normalizedDims, saved, x, dy, dx, affine, affineGrad);
    }

    /** The per-feature gradients alone (no dx), as {@link #backward} computes them. */
    public void parameterGradients(NormConfig config, int normalizedDims, SavedStatistics saved, TensorView x,
                                   TensorView dy, Affine affineGrad) {
        backwardChecked(config, normalizedDims, saved, x, dy, null, Affine.none(), affineGrad);
    }

    private void backwardChecked(NormConfig config, int normalizedDims, SavedStatistics saved, TensorView x,
                                 TensorView dy, TensorView dx, Affine affine, Affine affineGrad) {
        Engine.requireNoActivation(config, "layer norm");
        Checks.notNull(saved, "saved");
        Checks.notNull(x, "x");
        long features = features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Engine.outputs(x, null, Checks.notNull(dy, "dy"), dx);
        affine(affine, features);
        Engine.parameters(affineGrad, features, "feature", "affineGrad");
        Engine.saved(saved, rows, "row", "saved");
        engine.begin(x, null, dy, dx).layerBackward(rows, features, affine.weightOrNull(), saved.mean(),
                saved.invStd(), affineGrad.weightOrNull(), affineGrad.biasOrNull());
    }

    @Override
    public String toString() {
        return "LayerNorm[" + engine + "]";
    }
}
