package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;

/**
 * PyTorch's {@code nn.InstanceNorm1d/2d/3d(num_features, eps=1e-5, momentum=0.1, affine=False,
 * track_running_stats=False)}: each channel of each sample normalized with its own mean and biased
 * variance (group norm with one channel per group). With {@code track_running_stats}, training also
 * updates running_mean and running_var as PyTorch does (the batch's average of the instances' means
 * and unbiased variances, weighted by momentum, PyTorch's convention: the new value's weight; null for
 * a cumulative average), and eval normalizes with them. state_dict entries weight and bias (affine),
 * running_mean, running_var, num_batches_tracked (tracking).
 */
public abstract class InstanceNorm extends NormLayer {
    private final int numFeatures;
    private final int spatialRank;
    private final NormConfig config;
    private final Float momentum;
    private final RunningStatistics running;
    private final GroupNorm kernels = GroupNorm.get();
    private final BatchNorm fixed = BatchNorm.get();
    private SavedStatistics saved;
    /** Whether the last forward normalized with the running statistics (eval with tracking). */
    private boolean savedFromRunning;
    private final SavedStatistics runningSaved;
    private ChannelStatistics instanceStats;

    /**
     * @param spatialRank 1, 2 or 3 (InstanceNorm1d, 2d, 3d)
     * @param momentum PyTorch's convention (weight of the new value), in [0, 1], or null for a cumulative average
     */
    protected InstanceNorm(int spatialRank, int numFeatures, float eps, Float momentum, boolean affine,
                           boolean trackRunningStats) {
        super(positive(numFeatures), affine, affine, trackRunningStats);
        if (momentum != null && !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException("momentum must be in [0, 1] (PyTorch's convention: the weight of the "
                    + "new batch) or null, got " + momentum);
        }
        this.numFeatures = numFeatures;
        this.spatialRank = spatialRank;
        this.config = NormConfig.of(eps);
        this.momentum = momentum;
        running = trackRunningStats ? RunningStatistics.of(runningMean, runningVar) : null;
        runningSaved = trackRunningStats ? new SavedStatistics(numFeatures) : null;
    }

    private static int positive(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("num_features must be positive, got " + n);
        }
        return n;
    }

    /** num_features. */
    public int numFeatures() {
        return numFeatures;
    }

    @Override
    protected void checkInput(TensorShape shape) {
        if (shape == null) {
            throw new NullPointerException(this + ": shape must not be null");
        }
        if (shape.spatialRank() != spatialRank) {
            throw new IllegalArgumentException(this + ": expects " + (spatialRank + 2) + "-dimensional input, got "
                    + shape);
        }
        if (shape.channels() != numFeatures) {
            throw new IllegalArgumentException(this + ": input " + shape + " has " + shape.channels()
                    + " channels, expected " + numFeatures);
        }
    }

    @Override
    public void forward(TensorView x, TensorView y) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkInput(x.shape());
        TensorShape shape = x.shape();
        try {
            if (running != null && !isTraining()) {
                fixed.forwardInference(config, running, x, y, affine);
                runningSaved.setFromRunning(running, config.eps());
                savedFromRunning = true;
                return;
            }
            int units = GroupNorm.units(shape, numFeatures);
            boolean update = running != null;
            if (update && shape.spatialSize() < 2) {
                throw new IllegalArgumentException("expected more than 1 spatial element when training, got input "
                        + shape);
            }
            SavedStatistics s = savedFor(saved, units);
            ChannelStatistics stats = s == saved ? instanceStats : new ChannelStatistics(units);
            if (update) {
                kernels.statistics(numFeatures, x, stats);
            }
            kernels.forward(config, numFeatures, x, y, affine, s);
            saved = s;
            instanceStats = stats;
            savedFromRunning = false;
            if (update) {
                updateRunning(shape.batch(), shape.spatialSize());
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException | NullPointerException | IllegalStateException e) {
            throw named(e);
        }
    }

    private void updateRunning(long batch, long spatial) {
        numBatchesTracked++;
        double m = momentum == null ? 1.0 / numBatchesTracked : momentum;
        for (int c = 0; c < numFeatures; c++) {
            double mean = 0;
            double var = 0;
            for (long n = 0; n < batch; n++) {
                int u = (int) (n * numFeatures + c);
                mean += instanceStats.mean(u);
                var += instanceStats.m2(u) / (spatial - 1);
            }
            runningMean[c] = (float) ((1 - m) * runningMean[c] + m * mean / batch);
            runningVar[c] = (float) ((1 - m) * runningVar[c] + m * var / batch);
        }
    }

    @Override
    public void backward(TensorView x, TensorView dy, TensorView dx) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkInput(x.shape());
        Affine w = weightOnly;
        try {
            if (savedFromRunning) {
                if (dx != null) {
                    fixed.backward(config, GradientMode.FIXED_STATISTICS, runningSaved, x, dy, dx, w, affineScratch);
                } else {
                    fixed.parameterGradients(config, GradientMode.FIXED_STATISTICS, runningSaved, x, dy, affineScratch);
                }
            } else {
                if (saved == null || saved.channels() != x.shape().batch() * numFeatures) {
                    throw new IllegalStateException("backward needs the forward of the same input first");
                }
                if (dx != null) {
                    kernels.backward(config, numFeatures, saved, x, dy, dx, w, affineScratch);
                } else {
                    kernels.parameterGradients(config, numFeatures, saved, x, dy, affineScratch);
                }
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException | NullPointerException | IllegalStateException e) {
            throw named(e);
        }
        accumulateGradients();
    }

    @Override
    protected String describe() {
        return "InstanceNorm" + spatialRank + "d(" + numFeatures + ", eps=" + config.eps() + ", momentum=" + momentum
                + ", affine=" + (weight != null) + ", track_running_stats=" + (runningMean != null) + ")";
    }
}
