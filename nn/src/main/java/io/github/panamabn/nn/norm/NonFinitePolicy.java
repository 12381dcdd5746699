package io.github.panamabn.nn.norm;

/**
 * What a training-mode forward does with a batch whose statistics are not finite (NaN or infinite input)
 * or do not fit the float running statistics (a mean or variance beyond float's range).
 */
public enum NonFinitePolicy {
    /**
     * Throw a {@link NonFiniteBatchException} before anything is written: output, saved statistics and
     * running statistics stay as they were. The default.
     */
    THROW,
    /**
     * Normalize anyway (NaN and infinities stay in their own channels) but leave running_mean,
     * running_var and num_batches_tracked untouched, and count the batch in
     * {@link BatchNormLayer#skippedBatches()}.
     */
    SKIP_UPDATE
}
