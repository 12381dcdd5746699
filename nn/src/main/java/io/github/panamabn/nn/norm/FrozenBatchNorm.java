package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.TensorShape;

/**
 * Batch normalization with fixed statistics and affine parameters (torchvision's
 * {@code FrozenBatchNorm2d}, for any rank and layout): {@code y = (x - mean) / sqrt(var + eps) * weight + bias}.
 *
 * <p>The parameters are copied at construction and never change, so {@link #forward} is safe to
 * call from many threads at once; it allocates nothing per call once a thread has run it.
 */
public final class FrozenBatchNorm {
    private final RunningStatistics statistics;
    private final Affine affine;
    private final NormConfig config;
    private final BatchNorm kernels;

    /**
     * @param runningMean per-channel mean
     * @param runningVar per-channel variance
     * @param weight per-channel gamma, or null for 1
     * @param bias per-channel beta, or null for 0
     * @param eps added to the variance (PyTorch's default is 1e-5)
     * @param activation fused activation
     */
    public FrozenBatchNorm(float[] runningMean, float[] runningVar, float[] weight, float[] bias, float eps,
                           Activation activation) {
        this(runningMean, runningVar, weight, bias, eps, activation, BatchNorm.get());
    }

    /**
     * As {@link #FrozenBatchNorm(float[], float[], float[], float[], float, Activation)}, running on
     * {@code kernels} (for example {@code BatchNorm.get().withThreads(4)}).
     */
    public FrozenBatchNorm(float[] runningMean, float[] runningVar, float[] weight, float[] bias, float eps,
                           Activation activation, BatchNorm kernels) {
        if (runningMean == null || runningVar == null || activation == null || kernels == null) {
            throw new NullPointerException("runningMean, runningVar, activation and kernels must not be null");
        }
        this.statistics = RunningStatistics.of(runningMean.clone(), runningVar.clone());
        float[] w = weight == null ? null : weight.clone();
        float[] b = bias == null ? null : bias.clone();
        this.affine = w != null && b != null ? Affine.of(w, b) : w != null ? Affine.weightOnly(w)
                : b != null ? Affine.biasOnly(b) : Affine.none();
        this.config = new NormConfig(eps, activation);
        this.kernels = kernels;
        // Validates lengths and variances now rather than at the first forward.
        TensorShape probeShape = TensorShape.nc(1, runningMean.length);
        TensorView probe = TensorView.of(probeShape, new float[runningMean.length]);
        kernels.forwardInference(config, statistics, probe, probe, affine);
    }

    /** The number of channels. */
    public int channels() {
        return statistics.channels();
    }

    /**
     * Normalizes {@code x} into {@code y}, arrays of exactly {@code shape.elementCount()} floats; {@code y}
     * may be {@code x} (in place).
     *
     * @param shape the tensor's shape, with {@link #channels()} channels
     */
    public void forward(TensorShape shape, float[] x, float[] y) {
        if (shape == null) {
            throw new NullPointerException(this + ": shape must not be null");
        }
        ArrayViews views = ArrayViews.get();
        try {
            forward(views.x(this, shape, x), views.y(this, shape, y));
        } finally {
            views.release();
        }
    }

    /** Normalizes {@code x} into {@code y}, heap or off-heap; {@code y} may be {@code x} (in place). */
    public void forward(TensorView x, TensorView y) {
        kernels.forwardInference(config, statistics, x, y, affine);
    }

    @Override
    public String toString() {
        return "FrozenBatchNorm(" + channels() + ", eps=" + config.eps() + ")";
    }
}
