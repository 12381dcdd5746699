package io.github.panamabn.nn;

/**
 * A learnable tensor and its accumulated gradient, both live arrays of the same length.
 *
 * @param name a name for messages and state files (PyTorch's: weight, bias)
 * @param value the values, updated in place by an optimizer
 * @param grad the gradient, accumulated by backward and cleared by {@link #zeroGrad()}
 */
public record Parameter(String name, float[] value, float[] grad) {
    /** Checks both arrays exist and match. */
    public Parameter {
        if (value == null || grad == null || value.length != grad.length) {
            throw new IllegalArgumentException("parameter " + name + " needs a value and a gradient of the same length");
        }
    }

    /** Sets the gradient to 0. */
    public void zeroGrad() {
        java.util.Arrays.fill(grad, 0f);
    }
}
