package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.MemorySegment;

/**
 * The operations every kernel implementation provides. Arguments are validated by the public
 * facade before they reach a backend; a backend trusts them. A tensor is passed as an array and a
 * segment of which exactly one is non-null (see {@link Memory}), plus an offset in elements.
 */
public interface KernelBackend {
    /** Which implementation this is. */
    Implementation implementation();

    /** Floats of per-thread scratch {@link #statistics} needs. */
    int scratchFloats();

    /**
     * Per-channel mean and M2 of x into {@code mean[0..C)} and {@code m2[0..C)} (overwritten,
     * previous content ignored).
     *
     * @return the element count per channel
     */
    long statistics(TensorShape shape, float[] xa, MemorySegment xs, long xOffset, double[] mean, double[] m2,
                    float[] scratch);

    /**
     * {@code y = max((x - center[c]) * scale[c] + shift[c], floor)} elementwise, with one rounding for
     * the multiply-add; {@code floor} is 0 for a fused ReLU and negative infinity otherwise. Centering
     * first makes a constant channel come out as exactly {@code shift}. y may be x at the same offset.
     */
    void normalize(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                   float[] ya, MemorySegment ys, long yOffset,
                   float[] center, float[] scale, float[] shift, float floor);

    /**
     * Per channel, {@code sumDy[c] = sum(g)} and {@code sumDyXc[c] = sum(g * (x - center[c]))}, where g is
     * dy, or dy masked to 0 wherever {@code y <= 0} (or NaN) when y is given (the gradient through a fused
     * ReLU). Both sums in one sweep; arrays overwritten.
     */
    void gradientSums(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                      float[] xa, MemorySegment xs, long xOffset, float[] ya, MemorySegment ys, long yOffset,
                      float[] center, double[] sumDy, double[] sumDyXc, float[] scratch);

    /**
     * {@code dx = k1[c] * g + k2[c] * (x - center[c]) + k3[c]} elementwise, g as in {@link #gradientSums}.
     * dx may be dy at the same offset.
     */
    void gradientApply(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                       float[] xa, MemorySegment xs, long xOffset, float[] ya, MemorySegment ys, long yOffset,
                       float[] dxa, MemorySegment dxs, long dxOffset,
                       float[] center, float[] k1, float[] k2, float[] k3);
}
