package io.github.panamabn.kernels;

/**
 * Group-normalization kernels: the channels of each sample split into {@code groups} groups of
 * {@code C / groups} consecutive channels, each (sample, group) normalized with its own mean and
 * biased variance, {@code y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]}; statistics, forward
 * and backward for every {@link TensorShape}, channels-first and channels-last, on {@link TensorView}s
 * of {@code float[]}s or {@link java.lang.foreign.MemorySegment}s. With {@code groups = C} this is
 * instance norm (each channel of each sample on its own).
 *
 * <p>Statistics are batch norm's: channels-first groups are contiguous and reduced as one run;
 * channels-last, each channel's moments are taken over the sample's rows (Welford per lane, blocks of
 * 64, merged in double) and the group's channels merged with Chan's formula, never
 * {@code E[x^2] - E[x]^2}. Saved statistics hold one mean and invStd per (sample, group),
 * sample-major: {@code N * groups} of them. The contract is {@link LayerNorm}'s.
 */
public final class GroupNorm {
    /** The single-threaded instance of each implementation, made when first asked for. */
    private static final GroupNorm[] SINGLE = new GroupNorm[Implementation.values().length];

    private final Engine engine;

    private GroupNorm(Engine engine) {
        this.engine = engine;
    }

    /** The implementation selected for this JVM, as {@link BatchNorm#get()} selects it. */
    public static GroupNorm get() {
        return of(Engine.selected().backend.implementation());
    }

    /** A specific implementation; throws {@link UnsupportedOperationException} if it cannot run here. */
    public static GroupNorm of(Implementation implementation) {
        Checks.notNull(implementation, "implementation");
        GroupNorm single = SINGLE[implementation.ordinal()];
        if (single == null) {
            // a race makes two equal instances, one of them kept
            single = new GroupNorm(Engine.of(implementation));
            SINGLE[implementation.ordinal()] = single;
        }
        return single;
    }

    /** These kernels on up to {@code threads} threads, as {@link BatchNorm#withThreads}. */
    public GroupNorm withThreads(int threads) {
        return new GroupNorm(engine.withThreads(threads));
    }

    /** The most threads a call runs on. */
    public int threads() {
        return engine.threads();
    }

    /** The implementation this instance runs. */
    public Implementation implementation() {
        return engine.backend.implementation();
    }

    /** {@code N * groups}, the number of (sample, group) statistics of a call; checks {@code groups}. */
    public static int units(TensorShape shape, int groups) {
        Checks.notNull(shape, "shape");
        if (groups < 1 || shape.channels() % groups != 0) {
            throw new IllegalArgumentException("groups must be positive and divide the channels (" + shape.channels()
                    + "), got " + groups);
        }
        return Engine.unitCount(shape.batch() * groups, "samples x groups");
    }

    /** Each (sample, group)'s count, mean and M2 into {@code out}, one "channel" per unit, sample-major. */
    public void statistics(int groups, TensorView x, ChannelStatistics out) {
        Checks.view(x, "x", false);
        int units = units(x.shape(), groups);
        Checks.notNull(out, "out");
        Checks.statistics(out, units, "out");
        engine.begin(x, null, null, null).groupStatistics(x.shape(), groups, out.mean, out.m2);
        out.count = x.shape().channels() / groups * x.shape().spatialSize();
    }

    /**
     * Forward: each (sample, group) normalized with its statistics, then {@code * weight[c] + bias[c]}.
     * y may be x (in place).
     *
     * @param affine weight and bias with one value per channel, either alone, or {@link Affine#none()}
     */
    public void forward(NormConfig config, int groups, TensorView x, TensorView y, Affine affine) {
        forwardChecked(config, groups, x, y, affine, null);
    }

    /** As {@link #forward(NormConfig, int, TensorView, TensorView, Affine)}, keeping the statistics in {@code save}. */
    public void forward(NormConfig config, int groups, TensorView x, TensorView y, Affine affine,
                        SavedStatistics save) {
        Checks.notNull(save, "save");
        forwardChecked(config, groups, x, y, affine, save);
    }

    private void forwardChecked(NormConfig config, int groups, TensorView x, TensorView y, Affine affine,
                                SavedStatistics save) {
        Engine.requireNoActivation(config, "group norm");
        Checks.notNull(x, "x");
        int units = units(x.shape(), groups);
        Engine.outputs(x, Checks.notNull(y, "y"), null, null);
        Engine.parameters(affine, x.shape().channels(), "channel", "affine");
        Engine.saved(save, units, "(sample, group)", "save");
        engine.begin(x, y, null, null).groupForward(x.shape(), groups, affine.weightOrNull(), affine.biasOrNull(),
                config.eps(), save == null ? null : save.mean(), save == null ? null : save.invStd());
    }

    /**
     * Backward from dy: dx and the per-channel gradients into {@code affineGrad}
     * ({@code dweight[c] = sum(dy * xhat)}, {@code dbias[c] = sum(dy)} over samples and positions,
     * overwritten). dx may be dy (in place).
     *
     * @param saved the forward's per-(sample, group) mean and invStd
     * @param affine the forward's weight (its bias is not used), or {@link Affine#none()}
     */
    public void backward(NormConfig config, int groups, SavedStatistics saved, TensorView x, TensorView dy,
                         TensorView dx, Affine affine, Affine affineGrad) {
        Checks.notNull(dx, "dx");
        backwardChecked(config, groups, saved, x, dy, dx, affine, affineGrad);
    }

    /** The per-channel gradients alone (no dx), as {@link #backward} computes them. */
    public void parameterGradients(NormConfig config, int groups, SavedStatistics saved, TensorView x, TensorView dy,
                                   Affine affineGrad) {
        backwardChecked(config, groups, saved, x, dy, null, Affine.none(), affineGrad);
    }

    private void backwardChecked(NormConfig config, int groups, SavedStatistics saved, TensorView x, TensorView dy,
                                 TensorView dx, Affine affine, Affine affineGrad) {
        Engine.requireNoActivation(config, "group norm");
        Checks.notNull(saved, "saved");
        Checks.notNull(x, "x");
        int units = units(x.shape(), groups);
        Engine.outputs(x, null, Checks.notNull(dy, "dy"), dx);
        Engine.parameters(affine, x.shape().channels(), "channel", "affine");
        Engine.parameters(affineGrad, x.shape().channels(), "channel", "affineGrad");
        Engine.saved(saved, units, "(sample, group)", "saved");
        engine.begin(x, null, dy, dx).groupBackward(x.shape(), groups, affine.weightOrNull(), saved.mean(),
                saved.invStd(), affineGrad.weightOrNull(), affineGrad.biasOrNull());
    }

    @Override
    public String toString() {
        return "GroupNorm[" + engine + "]";
    }
}
