package io.github.panamabn.kernels;

/** Which forward a backward pass differentiates. */
public enum GradientMode {
    /**
     * The training-mode forward, whose statistics were the batch's own and so depend on x:
     * {@code dx = weight * invStd / M * (M * g - sum(g) - xhat * sum(g * xhat))}, M the elements per channel.
     */
    BATCH_STATISTICS,
    /**
     * A forward with fixed statistics (eval mode, frozen batch norm, running statistics):
     * {@code dx = g * weight * invStd}.
     */
    FIXED_STATISTICS
}
