package io.github.panamabn.kernels;

/**
 * RMS-normalization kernels (the norm of today's LLMs): each row of x's trailing dimensions scaled by
 * the inverse of its root mean square, {@code y = x / sqrt(mean(x^2) + eps) * weight}, weight per
 * element of the normalized dimensions (PyTorch's {@code RMSNorm}, Keras's {@code RMSNormalization});
 * forward and backward on {@link TensorView}s of {@code float[]}s or
 * {@link java.lang.foreign.MemorySegment}s. Rows are cut as {@link LayerNorm} cuts them
 * ({@code normalizedDims} trailing dimensions of a channels-first shape).
 *
 * <p>The mean square is summed from float squares in blocks of at most 64 additions per accumulator,
 * added into double; a row whose squares overflowed or may have underflowed is summed again in
 * double. The saved statistics' {@code invStd} is {@code 1 / sqrt(mean(x^2) + eps)}, their mean 0.
 * The contract is {@link LayerNorm}'s: checked before anything is written, no allocation once warm,
 * the same bits on any number of threads; no fused activation, and no bias.
 */
public final class RmsNorm {
    /** The single-threaded instance of each implementation, made when first asked for. */
    private static final RmsNorm[] SINGLE = new RmsNorm[Implementation.values().length];

    private final Engine engine;

    private RmsNorm(Engine engine) {
        this.engine = engine;
    }

    /** The implementation selected for this JVM, as {@link BatchNorm#get()} selects it. */
    public static RmsNorm get() {
        return of(Engine.selected().backend.implementation());
    }

    /** A specific implementation; throws {@link UnsupportedOperationException} if it cannot run here. */
    public static RmsNorm of(Implementation implementation) {
        Checks.notNull(implementation, "implementation");
        RmsNorm single = SINGLE[implementation.ordinal()];
        if (single == null) {
            // a race makes two equal instances, one of them kept
            single = new RmsNorm(Engine.of(implementation));
            SINGLE[implementation.ordinal()] = single;
        }
        return single;
    }

    /** These kernels on up to {@code threads} threads, as {@link BatchNorm#withThreads}. */
    public RmsNorm withThreads(int threads) {
        return new RmsNorm(engine.withThreads(threads));
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
     * Forward: each row times {@code 1 / sqrt(mean(x^2) + eps)}, then {@code * weight}. y may be x.
     *
     * @param affine {@link Affine#weightOnly} with one value per feature, or {@link Affine#none()}
     */
    public void forward(NormConfig config, int normalizedDims, TensorView x, TensorView y, Affine affine) {
        forwardChecked(config, normalizedDims, x, y, affine, null);
    }

    /**
     * As {@link #forward(NormConfig, int, TensorView, TensorView, Affine)}, keeping each row's
     * {@code 1 / sqrt(mean(x^2) + eps)} in {@code save.invStd()} (and 0 in its mean) for the backward pass.
     */
    public void forward(NormConfig config, int normalizedDims, TensorView x, TensorView y, Affine affine,
                        SavedStatistics save) {
        Checks.notNull(save, "save");
        forwardChecked(config, normalizedDims, x, y, affine, save);
    }

    private void forwardChecked(NormConfig config, int normalizedDims, TensorView x, TensorView y, Affine affine,
                                SavedStatistics save) {
        Engine.requireNoActivation(config, "RMS norm");
        Checks.notNull(x, "x");
        long features = LayerNorm.features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Engine.outputs(x, Checks.notNull(y, "y"), null, null);
        weightOnly(affine, features, "affine");
        Engine.saved(save, rows, "row", "save");
        if (save != null) {
            java.util.Arrays.fill(save.mean(), 0f);
        }
        engine.begin(x, y, null, null).rmsForward(rows, features, affine.weightOrNull(), config.eps(),
                save == null ? null : save.invStd());
    }

    /**
     * Fused residual add and RMS norm, as LLM blocks use them: {@code h = x + residual} written to h, and
     * {@code y} = the RMS norm of h, in one sweep over the rows while each is in cache. h may be x or
     * residual (in place: {@code residual += x} as a decoder's stream updates it), and y may be x or
     * residual, but not h. For training, {@link #backward} on h with {@code save} gives the norm's gradient.
     */
    public void forwardResidual(NormConfig config, int normalizedDims, TensorView x, TensorView residual, TensorView h,
                                TensorView y, Affine affine) {
        forwardResidualChecked(config, normalizedDims, x, residual, h, y, affine, null);
    }

    /** As the call without {@code save}, keeping the invRms of h's rows in it (and 0 in its mean). */
    public void forwardResidual(NormConfig config, int normalizedDims, TensorView x, TensorView residual, TensorView h,
                                TensorView y, Affine affine, SavedStatistics save) {
        Checks.notNull(save, "save");
        forwardResidualChecked(config, normalizedDims, x, residual, h, y, affine, save);
    }

    private void forwardResidualChecked(NormConfig config, int normalizedDims, TensorView x, TensorView residual,
                                        TensorView h, TensorView y, Affine affine, SavedStatistics save) {
        Engine.requireNoActivation(config, "RMS norm");
        Checks.notNull(x, "x");
        long features = LayerNorm.features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Engine.residualOutputs(x, residual, h, y);
        weightOnly(affine, features, "affine");
        Engine.saved(save, rows, "row", "save");
        if (save != null) {
            java.util.Arrays.fill(save.mean(), 0f);
        }
        engine.beginResidual(x, residual, h, y).rmsForward(rows, features, affine.weightOrNull(), config.eps(),
                save == null ? null : save.invStd());
    }

    private static void weightOnly(Affine affine, long features, String name) {
        Engine.parameters(affine, features, "feature", name);
        if (affine.hasBias()) {
            throw new IllegalArgumentException("RMS norm has no bias: " + name + " must be Affine.weightOnly(weight) "
                    + "or Affine.none()");
        }
    }

    /**
     * Backward from dy: dx and the per-feature weight gradient into {@code affineGrad}
     * ({@code dweight = sum over rows of dy * x * invRms}, overwritten). dx may be dy (in place).
     *
     * @param saved the forward's per-row invRms
     * @param affine the forward's weight, or {@link Affine#none()}
     * @param affineGrad {@link Affine#weightOnly} to receive the weight gradient, or {@link Affine#none()}
     */
    public void backward(NormConfig config, int normalizedDims, SavedStatistics saved, TensorView x, TensorView dy,
                         TensorView dx, Affine affine, Affine affineGrad) {
        Checks.notNull(dx, "dx");
        backwardChecked(config, normalizedDims, saved, x, dy, dx, affine, affineGrad);
    }

    /** The weight gradient alone (no dx), as {@link #backward} computes it. */
    public void parameterGradients(NormConfig config, int normalizedDims, SavedStatistics saved, TensorView x,
                                   TensorView dy, Affine affineGrad) {
        backwardChecked(config, normalizedDims, saved, x, dy, null, Affine.none(), affineGrad);
    }

    private void backwardChecked(NormConfig config, int normalizedDims, SavedStatistics saved, TensorView x,
                                 TensorView dy, TensorView dx, Affine affine, Affine affineGrad) {
        Engine.requireNoActivation(config, "RMS norm");
        Checks.notNull(saved, "saved");
        Checks.notNull(x, "x");
        long features = LayerNorm.features(x.shape(), normalizedDims);
        int rows = Engine.unitCount(x.shape().elementCount() / features, "rows");
        Engine.outputs(x, null, Checks.notNull(dy, "dy"), dx);
        weightOnly(affine, features, "affine");
        weightOnly(affineGrad, features, "affineGrad");
        Engine.saved(saved, rows, "row", "saved");
        engine.begin(x, null, dy, dx).rmsBackward(rows, features, affine.weightOrNull(), saved.invStd(),
                affineGrad.weightOrNull());
    }

    @Override
    public String toString() {
        return "RmsNorm[" + engine + "]";
    }
}
