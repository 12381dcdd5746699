package io.github.panamabn.nn.norm;

import java.math.BigDecimal;

/**
 * The running-statistics momentum in the conventions users bring, converted to this library's, which
 * is PyTorch's: the weight of the new batch, {@code running = (1 - m) * running + m * batch} (default
 * 0.1). Keras, ONNX and DJL give the weight of the old value instead ({@code running = m * running +
 * (1 - m) * batch}; defaults 0.99, 0.9 and 0.9). The conversion is done in decimal, as the value was
 * written: Keras 0.99 is exactly {@code 0.01f}, not {@code 1 - 0.99f} (0.00999999).
 *
 * <p>A value that looks like the other convention (say 0.9 passed as PyTorch's) is allowed: it is a
 * valid, if unusual, weight; name the convention with these methods to make the intent plain.
 */
public final class Momentum {
    private Momentum() {
    }

    /** PyTorch's {@code momentum} (weight of the new batch) as it is: checked to lie in [0, 1]. */
    public static float fromPyTorch(float momentum) {
        return check(momentum, "PyTorch");
    }

    /** Keras's {@code BatchNormalization(momentum=...)}: the weight of the old value. */
    public static float fromKeras(float momentum) {
        return complement(check(momentum, "Keras"));
    }

    /** ONNX's {@code BatchNormalization} attribute {@code momentum}: the weight of the old value. */
    public static float fromOnnx(float momentum) {
        return complement(check(momentum, "ONNX"));
    }

    /** DJL's {@code BatchNorm.builder().optMomentum(...)}: the weight of the old value (default 0.9). */
    public static float fromDjl(float momentum) {
        return complement(check(momentum, "DJL"));
    }

    /** This library's (PyTorch's) momentum as the weight of the old value, for Keras, ONNX or DJL. */
    public static float toOldValueWeight(float momentum) {
        return complement(check(momentum, "PyTorch"));
    }

    private static float check(float momentum, String convention) {
        if (!(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException(convention + " momentum must be in [0, 1], got " + momentum);
        }
        return momentum;
    }

    private static float complement(float momentum) {
        return BigDecimal.ONE.subtract(new BigDecimal(Float.toString(momentum))).floatValue();
    }
}
