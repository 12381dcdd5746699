package io.github.panamabn.nn.norm;

/** PyTorch's {@code nn.InstanceNorm3d}: see {@link InstanceNorm}. Inputs of 3 spatial dimension(s). */
public class InstanceNorm3d extends InstanceNorm {
    /** PyTorch's defaults: eps 1e-5, momentum 0.1, no affine, no running statistics. */
    public InstanceNorm3d(int numFeatures) {
        this(numFeatures, 1e-5f, 0.1f, false, false);
    }

    /** @param momentum PyTorch's convention (the new value's weight), or null for a cumulative average */
    public InstanceNorm3d(int numFeatures, float eps, Float momentum, boolean affine, boolean trackRunningStats) {
        super(3, numFeatures, eps, momentum, affine, trackRunningStats);
    }
}
