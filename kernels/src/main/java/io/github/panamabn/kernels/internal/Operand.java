package io.github.panamabn.kernels.internal;

import java.lang.foreign.MemorySegment;

/**
 * One tensor of a call, prepared once per call: its {@code float[]} or its segment (exactly one is
 * non-null while the call runs) and the element index the tensor starts at. The backends take the
 * parts, so no loop sees an object with two kinds of storage behind it.
 */
public final class Operand {
    float[] array;
    MemorySegment segment;
    long base;

    /** Binds this operand to an array ({@code segment} null) or a segment ({@code array} null). */
    public void set(float[] array, MemorySegment segment, long base) {
        this.array = array;
        this.segment = segment;
        this.base = base;
    }

    /** Whether this operand is bound. */
    boolean isSet() {
        return array != null || segment != null;
    }

    /** Drops the reference to the caller's data. */
    void clear() {
        array = null;
        segment = null;
        base = 0;
    }

    float get(long index) {
        return Memory.get(array, segment, base + index);
    }

    void put(long index, float value) {
        Memory.set(array, segment, base + index, value);
    }
}
