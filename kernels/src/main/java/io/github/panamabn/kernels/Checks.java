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

    /** A view used by a call: present, and its segment alive, accessible here and writable if written. */
    static void view(TensorView view, String name, boolean written) {
        notNull(view, name);
        MemorySegment segment = view.segmentOrNull();
        if (segment == null) {
            return;
        }
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
    }

    /** {@code other} must have x's shape (dimensions and layout). */
    static void sameShape(TensorView x, TensorView other, String name) {
        if (!other.shape().equals(x.shape())) {
            throw new IllegalArgumentException(name + " has shape " + other.shape() + " but x has " + x.shape());
        }
    }

    /** Names are built only for the message: a valid call allocates nothing. */
    static void affine(Affine affine, int channels, String name) {
        if (affine == null) {
            throw new NullPointerException(name + " must not be null (use Affine.none() for no affine transform)");
        }
        float[] weight = affine.weightOrNull();
        if (weight != null && weight.length != channels) {
            perChannel(weight, channels, name + ".weight", true);
        }
        float[] bias = affine.biasOrNull();
        if (bias != null && bias.length != channels) {
            perChannel(bias, channels, name + ".bias", true);
        }
    }

    static void saved(SavedStatistics saved, int channels, String name) {
        if (saved != null && saved.channels() != channels) {
            throw new IllegalArgumentException(name + " must have " + channels + " channels, got " + saved.channels());
        }
    }

    /** Whether any of the present views is bound to a segment: then the call runs on segments alone. */
    static boolean anySegment(TensorView a, TensorView b, TensorView c, TensorView d) {
        return !a.isArray() || !b.isArray() || (c != null && !c.isArray()) || (d != null && !d.isArray());
    }

    /**
     * Refuses {@code b} overlapping {@code a} other than exactly; the message names both. With
     * {@code segments} the call runs on the views' storage as segments (arrays wrapped), else on arrays.
     */
    static void noPartialOverlap(TensorView a, String aName, TensorView b, String bName, boolean segments) {
        long count = a.shape().elementCount();
        if (!segments) {
            noPartialOverlap(a.arrayOrNull(), a.offset(), aName, b.arrayOrNull(), b.offset(), bName, count);
        } else {
            noPartialOverlap(a.asSegment(), a.offset(), aName, b.asSegment(), b.offset(), bName, count);
        }
    }

    /** Refuses b being exactly a's memory, where an output would overwrite the other; the message names both. */
    static void notSameMemory(TensorView a, String aName, TensorView b, String bName, boolean segments) {
        boolean same;
        if (!segments) {
            same = a.arrayOrNull() == b.arrayOrNull() && a.offset() == b.offset();
        } else {
            MemorySegment sa = a.asSegment();
            MemorySegment sb = b.asSegment();
            same = sa.isNative() == sb.isNative()
                    && sa.address() + a.offset() * Float.BYTES == sb.address() + b.offset() * Float.BYTES
                    // asked only at the same address, where it decides; heapBase may allocate
                    && (sa.isNative() || sa.heapBase().orElse(null) == sb.heapBase().orElse(null));
        }
        if (same) {
            throw new IllegalArgumentException(bName + " must not be the same memory as " + aName + ": both are "
                    + "outputs of the call; pass separate tensors");
        }
    }

    static void epsilon(float eps) {
        if (!(eps > 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be positive and finite, got " + eps);
        }
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

    /**
     * Refuses {@code count} floats of segment {@code b} from element {@code bOffset} overlapping those of
     * {@code a} other than exactly; the message names both.
     */
    static void noPartialOverlap(MemorySegment a, long aOffset, String aName, MemorySegment b, long bOffset,
                                 String bName, long count) {
        long bytes = count * Float.BYTES;
        long aStart = aOffset * Float.BYTES;
        long bStart = bOffset * Float.BYTES;
        long apart;
        if (a.isNative() && b.isNative()) {
            apart = (b.address() + bStart) - (a.address() + aStart);
        } else if (a.isNative() || b.isNative()) {
            return;
        } else {
            // Heap segments: their addresses are offsets in their arrays. Only offsets closer than the
            // tensor's size can be a partial overlap, and only over the same array: just then are the
            // segments asked, which costs two slices (heapBase's Optional is not always eliminated either),
            // so separate arrays, and in-place calls, are checked without allocating.
            apart = (b.address() + bStart) - (a.address() + aStart);
            if (apart == 0 || Math.abs(apart) >= bytes
                    || a.asSlice(aStart, bytes).asOverlappingSlice(b.asSlice(bStart, bytes)).isEmpty()) {
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
