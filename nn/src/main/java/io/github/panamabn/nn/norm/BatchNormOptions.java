package io.github.panamabn.nn.norm;

/**
 * Options of a batch-norm layer, with PyTorch's names, defaults and conventions.
 *
 * @param eps added to the variance before the square root; PyTorch's default 1e-5
 * @param momentum weight of the new batch in the running statistics (PyTorch's convention),
 *                 {@code running = (1 - momentum) * running + momentum * batch}; PyTorch's default 0.1;
 *                 null for a cumulative moving average (weight {@code 1 / num_batches_tracked}). Keras,
 *                 ONNX and DJL give the weight of the old value: convert with {@link Momentum}.
 * @param affine whether the layer has the learnable per-channel weight (gamma) and bias (beta)
 * @param trackRunningStats whether the layer keeps running statistics; without them batch statistics
 *                          are used in eval mode too
 * @param unbiasedRunningVariance whether running_var tracks the unbiased batch variance (PyTorch) or
 *                                the biased one (Keras); normalization always uses the biased one
 */
public record BatchNormOptions(float eps, Float momentum, boolean affine, boolean trackRunningStats,
                               boolean unbiasedRunningVariance) {

    /** Validates the options. */
    public BatchNormOptions {
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be positive and finite, got " + eps);
        }
        if (momentum != null && !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1] or null (cumulative average), got " + momentum);
        }
    }

    /** PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics (unbiased). */
    public static BatchNormOptions defaults() {
        return new BatchNormOptions(1e-5f, 0.1f, true, true, true);
    }

    /**
     * The options of a Keras {@code BatchNormalization(momentum, epsilon)} layer (with its center and
     * scale on): Keras's momentum is the weight of the old running value, so Keras 0.99 is PyTorch
     * 0.01 (taken in decimal, so exactly 0.01f); Keras's default epsilon is 1e-3; and Keras updates the moving variance with the biased
     * batch variance.
     */
    public static BatchNormOptions fromKeras(float kerasMomentum, float epsilon) {
        return new BatchNormOptions(epsilon, Momentum.fromKeras(kerasMomentum), true, true, false);
    }

    /** Keras's defaults: momentum 0.99, epsilon 1e-3. */
    public static BatchNormOptions kerasDefaults() {
        return fromKeras(0.99f, 1e-3f);
    }

    /** These options with another eps. */
    public BatchNormOptions withEps(float newEps) {
        return new BatchNormOptions(newEps, momentum, affine, trackRunningStats, unbiasedRunningVariance);
    }

    /** These options with another momentum (null: cumulative moving average). */
    public BatchNormOptions withMomentum(Float newMomentum) {
        return new BatchNormOptions(eps, newMomentum, affine, trackRunningStats, unbiasedRunningVariance);
    }

    /** These options with or without the affine parameters. */
    public BatchNormOptions withAffine(boolean newAffine) {
        return new BatchNormOptions(eps, momentum, newAffine, trackRunningStats, unbiasedRunningVariance);
    }

    /** These options with or without running statistics. */
    public BatchNormOptions withTrackRunningStats(boolean track) {
        return new BatchNormOptions(eps, momentum, affine, track, unbiasedRunningVariance);
    }
}
