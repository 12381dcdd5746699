package io.github.panamabn.kernels;

/**
 * Fixed per-channel statistics to normalize with in inference: a mean and a (biased or unbiased, as the
 * caller keeps them) variance, PyTorch's {@code running_mean} and {@code running_var}.
 *
 * <p>An instance holds the caller's arrays, live: a layer that updates them in place is seen by the next
 * call. Variances are checked by each call that uses them.
 */
public final class RunningStatistics {
    private final float[] mean;
    private final float[] var;

    private RunningStatistics(float[] mean, float[] var) {
        this.mean = mean;
        this.var = var;
    }

    /** Over the caller's arrays (kept, not copied), one value per channel each. */
    public static RunningStatistics of(float[] mean, float[] var) {
        Checks.notNull(mean, "mean");
        Checks.notNull(var, "var");
        if (mean.length != var.length || mean.length == 0) {
            throw new IllegalArgumentException("mean and var must have one value per channel each, got lengths "
                    + mean.length + " and " + var.length);
        }
        return new RunningStatistics(mean, var);
    }

    /** The number of channels. */
    public int channels() {
        return mean.length;
    }

    /** The per-channel mean, live. */
    public float[] mean() {
        return mean;
    }

    /** The per-channel variance, live. */
    public float[] var() {
        return var;
    }

    /** Throws unless every variance is non-negative (not NaN). */
    void checkVariances(String name) {
        for (int c = 0; c < var.length; c++) {
            if (!(var[c] >= 0)) {
                throw new IllegalArgumentException(name + "[" + c + "] must be a non-negative variance, got " + var[c]);
            }
        }
    }
}
