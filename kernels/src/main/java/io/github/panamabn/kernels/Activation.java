package io.github.panamabn.kernels;

/** An elementwise activation fused into a forward kernel's output. */
public enum Activation {
    /** The output is the normalized value. */
    IDENTITY,
    /** The output is {@code max(0, normalized value)}; NaN stays NaN. */
    RELU
}
