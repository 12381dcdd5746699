package io.github.panamabn.nn.norm;

/**
 * A training batch whose per-channel statistics are not finite (its input has NaN or infinite values)
 * or would not fit the float running statistics. Thrown before anything is written, so the running
 * statistics are never poisoned.
 */
public final class NonFiniteBatchException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** @param message names the layer and the channels */
    public NonFiniteBatchException(String message) {
        super(message);
    }
}
