package io.github.panamabn.kernels;

/**
 * What a normalization call is configured with besides its tensors: {@code eps}, added to the variance
 * (positive and finite; PyTorch's default 1e-5), and the activation fused into the output. Built once
 * and reused; immutable and thread-safe.
 *
 * @param eps added to the variance before its square root
 * @param activation applied to the normalized, scaled and shifted value
 */
public record NormConfig(float eps, Activation activation) {
    /** eps 1e-5 (PyTorch's default), no activation. */
    public static final NormConfig DEFAULT = new NormConfig(1e-5f, Activation.IDENTITY);

    /**
     * @throws IllegalArgumentException if eps is not positive and finite
     * @throws NullPointerException if activation is null
     */
    public NormConfig {
        Checks.epsilon(eps);
        Checks.notNull(activation, "activation");
    }

    /** This eps, no activation. */
    public static NormConfig of(float eps) {
        return new NormConfig(eps, Activation.IDENTITY);
    }

    /** This configuration with {@code newActivation} fused. */
    public NormConfig withActivation(Activation newActivation) {
        return new NormConfig(eps, newActivation);
    }

    /** This configuration with {@code newEps}. */
    public NormConfig withEps(float newEps) {
        return new NormConfig(newEps, activation);
    }
}
