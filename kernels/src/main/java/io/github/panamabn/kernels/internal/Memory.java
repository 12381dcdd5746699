package io.github.panamabn.kernels.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Element access for the kernels' one loop body over both kinds of tensor memory: a tensor is a
 * {@code float[]} ({@code array} non-null) or a {@link MemorySegment} ({@code array} null). Passing the
 * array itself, rather than wrapping it in a heap segment, keeps calls on arrays allocation-free; the
 * test is loop-invariant and predictable.
 */
final class Memory {
    /** The element layout of segment tensors: float, native byte order, any alignment. */
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private Memory() {
    }

    static float get(float[] array, MemorySegment segment, long index) {
        return array != null ? array[(int) index] : segment.getAtIndex(FLOAT, index);
    }

    static void set(float[] array, MemorySegment segment, long index, float value) {
        if (array != null) {
            array[(int) index] = value;
        } else {
            segment.setAtIndex(FLOAT, index, value);
        }
    }
}
