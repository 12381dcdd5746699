package io.github.panamabn.nn.norm;

/** PyTorch's {@code nn.InstanceNorm1d}: see {@link InstanceNorm}. Inputs of 1 spatial dimension(s). */
public class InstanceNorm1d extends InstanceNorm {
    /** PyTorch's defaults: eps 1e-5, momentum 0.1, no affine, no running statistics. */
    public InstanceNorm1d(int numFeatures) {
        this(numFeatures, 1e-5f, 0.1f, false, false);
    }

    /** @param momentum PyTorch's convention (the new value's weight), or null for a cumulative average */
    public InstanceNorm1d(int numFeatures, float eps, Float momentum, boolean affine, boolean trackRunningStats) {
        super(1, numFeatures, eps, momentum, affine, trackRunningStats);
    }
}
