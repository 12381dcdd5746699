package io.github.panamabn.kernels;

/**
 * What a training-mode forward keeps for its backward, per channel: the mean it normalized with and
 * {@code invStd = 1 / sqrt(var + eps)} (PyTorch's {@code save_mean} and {@code save_invstd}). A backward
 * with {@link GradientMode#FIXED_STATISTICS} takes the running statistics in the same form
 * ({@link #setFromRunning}).
 *
 * <p>An instance holds two float arrays, live; reuse one across calls. Mutable and not thread-safe.
 */
public final class SavedStatistics {
    private final float[] mean;
    private final float[] invStd;

    private SavedStatistics(float[] mean, float[] invStd) {
        this.mean = mean;
        this.invStd = invStd;
    }

    /** Zeros for {@code channels} channels, to be written by a forward. */
    public SavedStatistics(int channels) {
        this(new float[positive(channels)], new float[channels]);
    }

    private static int positive(int channels) {
        if (channels <= 0) {
            throw new IllegalArgumentException("channels must be positive, got " + channels);
        }
        return channels;
    }

    /** Over the caller's arrays (kept, not copied), one value per channel each. */
    public static SavedStatistics of(float[] mean, float[] invStd) {
        Checks.notNull(mean, "mean");
        Checks.notNull(invStd, "invStd");
        if (mean.length != invStd.length || mean.length == 0) {
            throw new IllegalArgumentException("mean and invStd must have one value per channel each, got lengths "
                    + mean.length + " and " + invStd.length);
        }
        return new SavedStatistics(mean, invStd);
    }

    /** The number of channels. */
    public int channels() {
        return mean.length;
    }

    /** The per-channel mean, live. */
    public float[] mean() {
        return mean;
    }

    /** The per-channel {@code 1 / sqrt(var + eps)}, live. */
    public float[] invStd() {
        return invStd;
    }

    /**
     * Sets this to the running statistics' mean and {@code 1 / sqrt(var + eps)} (computed in double),
     * for a backward with {@link GradientMode#FIXED_STATISTICS}; allocates nothing.
     *
     * @throws IllegalArgumentException if the channel counts differ, eps is not positive and finite, or a
     *     variance is negative or NaN (nothing is written then)
     */
    public SavedStatistics setFromRunning(RunningStatistics running, float eps) {
        Checks.notNull(running, "running");
        Checks.epsilon(eps);
        if (running.channels() != channels()) {
            throw new IllegalArgumentException("running has " + running.channels() + " channels, this "
                    + channels());
        }
        running.checkVariances("running.var");
        float[] var = running.var();
        for (int c = 0; c < mean.length; c++) {
            invStd[c] = (float) (1 / Math.sqrt((double) var[c] + eps));
        }
        System.arraycopy(running.mean(), 0, mean, 0, mean.length);
        return this;
    }
}
