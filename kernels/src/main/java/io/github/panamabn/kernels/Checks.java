package io.github.panamabn.kernels;

import java.lang.foreign.MemorySegment;

/** Argument validation of the facade: every check runs before anything is written. */
final class Checks {
    private Checks() {
    }

    static <T> T notNull(T value, String name) {
        if (value == null) {
            throw new NullPointerException(name + " must not be null");
        }
        return value;
    }

    /** {@code array[offset, offset + count)} must exist. */
    static void range(float[] array, long offset, long count, String name) {
        notNull(array, name);
        if (offset < 0 || offset > array.length || count > array.length - offset) {
            throw new IndexOutOfBoundsException(name + " has length " + array.length + " but the shape needs "
                    + count + " elements from offset " + offset);
        }
    }

    /** An array of one value per channel; null allowed when {@code optional}. */
    static void perChannel(float[] array, int channels, String name, boolean optional) {
        if (array == null) {
            if (optional) {
                return;
            }
            throw new NullPointerException(name + " must not be null");
        }
        if (array.length != channels) {
            throw new IllegalArgumentException(
                    name + " must have one value per channel (" + channels + "), got length " + array.length);
        }
    }

    static void segment(MemorySegment segment, long count, String name, boolean written) {
        notNull(segment, name);
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException(name + " belongs to an arena that is already closed");
        }
        if (!segment.isAccessibleBy(Thread.currentThread())) {
            throw new IllegalStateException(name + " is confined to another thread than "
                    + Thread.currentThread().getName());
        }
        if (written && segment.isReadOnly()) {
            throw new IllegalArgumentException(name + " is read-only but is written to");
        }
        if (segment.byteSize() / Float.BYTES < count) {
            throw new IndexOutOfBoundsException(name + " has " + segment.byteSize() + " bytes but the shape needs "
                    + count + " floats (" + count * Float.BYTES + " bytes)");
        }
    }

    static void epsilon(float eps) {
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be positive and finite, got " + eps);
        }
    }

    /** Output may be the input itself (in place), but must not overlap it partially. */
    static void noPartialOverlap(float[] x, long xOffset, float[] y, long yOffset, long count) {
        noPartialOverlap(x, xOffset, "x", y, yOffset, "y", count);
    }

    /** Refuses {@code b} overlapping {@code a} other than exactly; the message names both. */
    static void noPartialOverlap(float[] a, long aOffset, String aName, float[] b, long bOffset, String bName,
                                 long count) {
        if (a == b && aOffset != bOffset && Math.abs(aOffset - bOffset) < count) {
            throw new IllegalArgumentException(bName + " overlaps " + aName + " partially (" + aName
                    + " from element " + aOffset + ", " + bName + " from element " + bOffset + ", " + count
                    + " elements each); pass the same offset for in-place or disjoint ranges");
        }
    }

    static void noPartialOverlap(MemorySegment x, MemorySegment y, long count) {
        noPartialOverlap(x, "x", y, "y", count);
    }

    /** Refuses segment {@code b} overlapping {@code a} other than exactly; the message names both. */
    static void noPartialOverlap(MemorySegment a, String aName, MemorySegment b, String bName, long count) {
        long bytes = count * Float.BYTES;
        long apart;
        if (a.isNative() && b.isNative()) {
            apart = b.address() - a.address();
        } else if (a.isNative() || b.isNative()) {
            return;
        } else {
            // Heap segments: their addresses are offsets in their arrays. Only offsets closer than the
            // tensor's size can be a partial overlap, and only over the same array: just then are the
            // segments asked, which costs two slices (heapBase's Optional is not always eliminated either),
            // so separate arrays, and in-place calls, are checked without allocating.
            apart = b.address() - a.address();
            if (apart == 0 || Math.abs(apart) >= bytes
                    || a.asSlice(0, bytes).asOverlappingSlice(b.asSlice(0, bytes)).isEmpty()) {
                return;
            }
        }
        if (apart != 0 && Math.abs(apart) < bytes) {
            throw new IllegalArgumentException(bName + " overlaps " + aName + " partially (" + apart
                    + " bytes apart, " + bytes + " bytes each); pass the same memory for in-place or disjoint memory");
        }
    }

    static void statistics(ChannelStatistics stats, int channels, String name) {
        if (stats != null && stats.channels() != channels) {
            throw new IllegalArgumentException(
                    name + " must have " + channels + " channels, got " + stats.channels());
        }
    }
}
