package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.TensorShape;

/** Batch normalization over (N, C, H, W) or channels-last (N, H, W, C) input, as PyTorch's {@code BatchNorm2d}. See {@link BatchNormLayer}. */
public final class BatchNorm2d extends BatchNormLayer {
    /** With PyTorch's defaults: eps 1e-5, momentum 0.1, affine, running statistics. */
    public BatchNorm2d(int numFeatures) {
        this(numFeatures, BatchNormOptions.defaults(), Activation.IDENTITY);
    }

    /** With the given options and no fused activation. */
    public BatchNorm2d(int numFeatures, BatchNormOptions options) {
        this(numFeatures, options, Activation.IDENTITY);
    }

    /** With the given options and fused activation. */
    public BatchNorm2d(int numFeatures, BatchNormOptions options, Activation activation) {
        super(numFeatures, options, activation);
    }

    @Override
    void checkSpatialRank(TensorShape shape) {
        if (shape.spatialRank() != 2) {
            throw new IllegalArgumentException(this + " expected 4D input, got " + (shape.spatialRank() + 2)
                    + "D input of shape " + shape);
        }
    }
}
