package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.MemorySegment;

/**
 * The operations every kernel implementation provides. Arguments are validated by the public
 * facade before they reach a backend; a backend trusts them. Offsets are in elements.
 */
public interface KernelBackend {
    /** Which implementation this is. */
    Implementation implementation();

    /** Floats of per-thread scratch {@link #statistics} needs. */
    int scratchFloats();

    /**
     * Per-channel mean and M2 of {@code x} into {@code mean[0..C)} and {@code m2[0..C)}
     * (overwritten, previous content ignored).
     *
     * @return the element count per channel
     */
    long statistics(TensorShape shape, MemorySegment x, long xOffset, double[] mean, double[] m2, float[] scratch);

    /**
     * {@code y = max((x - center[c]) * scale[c] + shift[c], floor)} elementwise, with one rounding for
     * the multiply-add; {@code floor} is 0 for a fused ReLU and negative infinity otherwise. Centering
     * first makes a constant channel come out as exactly {@code shift}. {@code y} may be {@code x} at
     * the same offset.
     */
    void normalize(TensorShape shape, MemorySegment x, long xOffset, MemorySegment y, long yOffset,
                   float[] center, float[] scale, float[] shift, float floor);
}
