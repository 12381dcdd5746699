package io.github.panamabn.nn;

import io.github.panamabn.kernels.Activation;
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
    private final float[] runningMean;
    private final float[] runningVar;
    private final float[] weight;
    private final float[] bias;
    private final float eps;
    private final Activation activation;
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
        this.runningMean = runningMean.clone();
        this.runningVar = runningVar.clone();
        this.weight = weight == null ? null : weight.clone();
        this.bias = bias == null ? null : bias.clone();
        this.eps = eps;
        this.activation = activation;
        this.kernels = kernels;
        // Validates lengths, eps and variances now rather than at the first forward.
        float[] probe = new float[runningMean.length];
        kernels.forwardInference(TensorShape.nc(1, runningMean.length), probe, 0, probe, 0,
                this.runningMean, this.runningVar, this.weight, this.bias, eps, activation);
    }

    /** The number of channels. */
    public int channels() {
        return runningMean.length;
    }

    /**
     * Normalizes {@code x} into {@code y}; {@code y} may be {@code x} (in place).
     *
     * @param shape the tensor's shape, with {@link #channels()} channels
     */
    public void forward(TensorShape shape, float[] x, float[] y) {
        kernels.forwardInference(shape, x, 0, y, 0, runningMean, runningVar, weight, bias, eps, activation);
    }
}
