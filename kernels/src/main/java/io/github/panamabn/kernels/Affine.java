package io.github.panamabn.kernels;

/**
 * The per-channel affine parameters of a normalization, {@code weight} (gamma, the scale) and
 * {@code bias} (beta, the shift), as PyTorch names them; either may be absent (scale 1, shift 0). The
 * same type carries their gradients out of a backward pass ({@code affineGrad}), where an absent one is
 * not computed.
 *
 * <p>An instance holds the caller's arrays, live: an optimizer that updates them in place is seen by the
 * next call, so one instance serves every call. Immutable as a binding and thread-safe as far as the
 * arrays are.
 */
public final class Affine {
    private static final Affine NONE = new Affine(null, null);

    private final float[] weight;
    private final float[] bias;

    private Affine(float[] weight, float[] bias) {
        if (weight != null && bias != null && weight.length != bias.length) {
            throw new IllegalArgumentException("weight and bias must have one value per channel each, got lengths "
                    + weight.length + " and " + bias.length);
        }
        this.weight = weight;
        this.bias = bias;
    }

    /** No affine transform (PyTorch's {@code affine=False}): scale 1, shift 0; for gradients, none computed. */
    public static Affine none() {
        return NONE;
    }

    /** Scale and shift, one value per channel each. */
    public static Affine of(float[] weight, float[] bias) {
        Checks.notNull(weight, "weight");
        Checks.notNull(bias, "bias");
        return new Affine(weight, bias);
    }

    /** A scale alone, shift 0 (PyTorch's {@code bias=False}). */
    public static Affine weightOnly(float[] weight) {
        Checks.notNull(weight, "weight");
        return new Affine(weight, null);
    }

    /** A shift alone, scale 1. */
    public static Affine biasOnly(float[] bias) {
        Checks.notNull(bias, "bias");
        return new Affine(null, bias);
    }

    /** Whether a weight is given. */
    public boolean hasWeight() {
        return weight != null;
    }

    /** Whether a bias is given. */
    public boolean hasBias() {
        return bias != null;
    }

    /**
     * The weight array, live.
     *
     * @throws IllegalStateException if there is none
     */
    public float[] weight() {
        if (weight == null) {
            throw new IllegalStateException("this Affine has no weight");
        }
        return weight;
    }

    /**
     * The bias array, live.
     *
     * @throws IllegalStateException if there is none
     */
    public float[] bias() {
        if (bias == null) {
            throw new IllegalStateException("this Affine has no bias");
        }
        return bias;
    }

    float[] weightOrNull() {
        return weight;
    }

    float[] biasOrNull() {
        return bias;
    }

    @Override
    public String toString() {
        return "Affine[" + (weight == null ? "no weight" : "weight[" + weight.length + "]") + ", "
                + (bias == null ? "no bias" : "bias[" + bias.length + "]") + "]";
    }
}
