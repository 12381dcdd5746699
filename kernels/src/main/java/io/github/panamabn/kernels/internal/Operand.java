package io.github.panamabn.kernels.internal;

import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;

/**
 * One tensor of a call, prepared once per call: its {@code float[]} or its segment (exactly one is
 * non-null while the call runs) and the element index the tensor starts at. The backends take the
 * parts, so no loop sees an object with two kinds of storage behind it.
 */
public final class Operand {
    float[] array;
    MemorySegment segment;
    long base;

    /** The heap segment last seen here and the object it lies on, weakly: no tensor is kept alive. */
    private WeakReference<MemorySegment> seenSegment;
    private WeakReference<Object> seenBase;
    /** The array {@link #liesOnArray} found, until {@link #moveToArray}. */
    private float[] found;

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
        found = null;
    }

    float get(long index) {
        return Memory.get(array, segment, base + index);
    }

    void put(long index, float value) {
        Memory.set(array, segment, base + index, value);
    }

    /**
     * Whether this operand's storage is, or lies on, a {@code float[]}: no segment, or a heap segment of
     * a float[] starting on an element (then remembered for {@link #moveToArray}). Only
     * {@code heapBase()} tells, and the JIT does not always eliminate its Optional; so the answer is
     * kept for the segment object last seen here, and a call that passes the same segment again
     * allocates nothing.
     */
    boolean liesOnArray() {
        MemorySegment s = segment;
        if (s == null) {
            return true;
        }
        // maxByteAlignment() is the element size of a heap segment's array at an aligned offset: only 4
        // may be a float[]
        if (s.isNative() || s.maxByteAlignment() != Float.BYTES || s.address() % Float.BYTES != 0) {
            return false;
        }
        Object onto;
        if (seenSegment != null && seenSegment.get() == s) {
            onto = seenBase.get();
        } else {
            onto = s.heapBase().orElse(null);
            seenSegment = new WeakReference<>(s);
            seenBase = new WeakReference<>(onto);
        }
        found = onto instanceof float[] a ? a : null;
        return found != null;
    }

    /**
     * Rebinds a segment operand to the array {@link #liesOnArray} found, so the call's loops run on
     * arrays, the faster kind of storage; no-op without a segment.
     */
    void moveToArray() {
        if (segment != null) {
            base += segment.address() / Float.BYTES;
            array = found;
            segment = null;
            found = null;
        }
    }
}
