package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.TensorShape;

/** Batch normalization over (N, C) or (N, C, L) input, as PyTorch's {@code BatchNorm1d}. See {@link BatchNormLayer}. */
public final class BatchNorm1d extends BatchNormLayer {
    /** With PyTorch's defaults: eps 1e-5, momentum 0.1, affine, running statistics. */
    public BatchNorm1d(int numFeatures) {
        this(numFeatures, BatchNormOptions.defaults(), Activation.IDENTITY);
    }

    /** With the given options and no fused activation. */
    public BatchNorm1d(int numFeatures, BatchNormOptions options) {
        this(numFeatures, options, Activation.IDENTITY);
    }

    /** With the given options and fused activation. */
    public BatchNorm1d(int numFeatures, BatchNormOptions options, Activation activation) {
        super(numFeatures, options, activation);
    }

    @Override
    void checkSpatialRank(TensorShape shape) {
        if (shape.spatialRank() > 1) {
            throw new IllegalArgumentException(this + " expected 2D or 3D input, got " + (shape.spatialRank() + 2)
                    + "D input of shape " + shape);
        }
    }
}
