package io.github.panamabn.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A tensor as the kernels take it: a {@link TensorShape} and the floats it describes, either in a
 * {@code float[]} from an element offset or in a {@link MemorySegment} (heap or native, in the
 * platform's native byte order) from a byte offset.
 *
 * <p>A view is bound either to its whole storage ({@link #of(TensorShape, float[])}: the array's length,
 * or the segment's size, must be exactly the shape's) or to a window of a larger one ({@code of} with an
 * offset: the shape's elements must fit from there). A service keeps one view per buffer and
 * {@linkplain #bind(float[]) rebinds} it to each request's data, or {@linkplain #reshape reshapes} it
 * for a new batch size, without allocating: the kernels allocate nothing per call either when they are
 * given the same views again.
 *
 * <p>A view is mutable and not thread-safe: a thread that rebinds a view must not share it with calls
 * running at the same time. It holds a reference to its storage until rebound. Whether a segment is
 * alive, accessible from the calling thread and writable is checked by each call that uses it; a
 * segment's byte order cannot be seen, and floats are read in native order: NIO buffers, which know
 * theirs, are taken by {@link #of(TensorShape, ByteBuffer)} and {@link #of(TensorShape, FloatBuffer)},
 * which refuse one in the other order.
 */
public final class TensorView {
    private TensorShape shape;
    private float[] array;
    private MemorySegment segment;
    /** Element index of the first float, in the array or the segment. */
    private long offset;
    /** Bound to the whole storage: the storage's size must be the shape's exactly. */
    private boolean whole;
    /** The array as a heap segment, made once per array when a call mixes storages. */
    private MemorySegment arrayAsSegment;

    private TensorView() {
    }

    /**
     * A view of all of {@code data}, whose length must be {@code shape.elementCount()}.
     *
     * @throws IllegalArgumentException if the length is not the shape's element count
     */
    public static TensorView of(TensorShape shape, float[] data) {
        return new TensorView().bind(shape, data);
    }

    /**
     * A view of {@code shape.elementCount()} floats of {@code data} from index {@code offset}, a window
     * in a larger array.
     *
     * @throws IndexOutOfBoundsException if they do not fit from {@code offset}
     */
    public static TensorView of(TensorShape shape, float[] data, int offset) {
        return new TensorView().bind(shape, data, offset);
    }

    /**
     * A view of all of {@code data}, whose size must be {@code shape.elementCount() * 4} bytes.
     *
     * @throws IllegalArgumentException if the size is not the shape's
     */
    public static TensorView of(TensorShape shape, MemorySegment data) {
        return new TensorView().bind(shape, data);
    }

    /**
     * A view of {@code shape.elementCount()} floats of {@code data} from byte {@code byteOffset} (a
     * multiple of 4), a window in a larger segment.
     *
     * @throws IllegalArgumentException if {@code byteOffset} is not a multiple of 4
     * @throws IndexOutOfBoundsException if the floats do not fit from there
     */
    public static TensorView of(TensorShape shape, MemorySegment data, long byteOffset) {
        return new TensorView().bind(shape, data, byteOffset);
    }

    /**
     * A view of the floats of {@code data} from its position to its limit, which must be exactly the
     * shape's, in the platform's native byte order (a direct buffer from a network or file API, set
     * with {@code order(ByteOrder.nativeOrder())}). The view reads and writes the buffer's memory; the
     * buffer's position and limit are not changed. Wrapping a buffer makes a small object: keep the view
     * (or a segment of the buffer) for a call that allocates nothing.
     *
     * @throws IllegalArgumentException if the buffer's byte order is not native, or its remaining bytes
     *     are not the shape's
     */
    public static TensorView of(TensorShape shape, ByteBuffer data) {
        Checks.notNull(data, "data");
        return of(shape, segmentOf(data, data.order()));
    }

    /**
     * A view of the floats of {@code data} from its position to its limit, which must be the shape's
     * element count; a view of a {@code FloatBuffer} made from a {@code ByteBuffer} must be in native
     * byte order. A heap buffer's array is read and written as the array it is.
     *
     * @throws IllegalArgumentException if the buffer's byte order is not native, or its remaining floats
     *     are not the shape's
     */
    public static TensorView of(TensorShape shape, FloatBuffer data) {
        Checks.notNull(data, "data");
        return of(shape, segmentOf(data, data.order()));
    }

    private static MemorySegment segmentOf(Buffer data, ByteOrder order) {
        if (order != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("data is a " + order + " buffer, but the kernels read floats in "
                    + "this platform's byte order (" + ByteOrder.nativeOrder() + "): set order(ByteOrder.nativeOrder())"
                    + " on the buffer, or convert the data");
        }
        return MemorySegment.ofBuffer(data);
    }

    /** Rebinds this view to all of {@code data}, keeping its shape. */
    public TensorView bind(float[] data) {
        return bind(shape, data);
    }

    /** Rebinds this view to a window of {@code data} from {@code offset}, keeping its shape. */
    public TensorView bind(float[] data, int offset) {
        return bind(shape, data, offset);
    }

    /** Rebinds this view to all of {@code data}, keeping its shape. */
    public TensorView bind(MemorySegment data) {
        return bind(shape, data);
    }

    /** Rebinds this view to a window of {@code data} from byte {@code byteOffset}, keeping its shape. */
    public TensorView bind(MemorySegment data, long byteOffset) {
        return bind(shape, data, byteOffset);
    }

    /** Rebinds this view to {@code shape} over all of {@code data}; see {@link #of(TensorShape, float[])}. */
    public TensorView bind(TensorShape shape, float[] data) {
        Checks.notNull(shape, "shape");
        Checks.notNull(data, "data");
        if (data.length != shape.elementCount()) {
            throw new IllegalArgumentException("data has length " + data.length + " but shape " + shape + " has "
                    + shape.elementCount() + " elements; pass an offset to view a window of a larger array");
        }
        return setArray(shape, data, 0, true);
    }

    /** Rebinds this view to {@code shape} over a window of {@code data}; see {@link #of(TensorShape, float[], int)}. */
    public TensorView bind(TensorShape shape, float[] data, int offset) {
        Checks.notNull(shape, "shape");
        Checks.range(data, offset, shape.elementCount(), "data");
        return setArray(shape, data, offset, false);
    }

    /** Rebinds this view to {@code shape} over all of {@code data}; see {@link #of(TensorShape, MemorySegment)}. */
    public TensorView bind(TensorShape shape, MemorySegment data) {
        Checks.notNull(shape, "shape");
        Checks.notNull(data, "data");
        if (data.byteSize() != shape.elementCount() * Float.BYTES) {
            throw new IllegalArgumentException("data has " + data.byteSize() + " bytes but shape " + shape + " has "
                    + shape.elementCount() + " floats (" + shape.elementCount() * Float.BYTES
                    + " bytes); pass a byte offset to view a window of a larger segment");
        }
        return setSegment(shape, data, 0, true);
    }

    /** Rebinds this view to {@code shape} over a window of {@code data}; see {@link #of(TensorShape, MemorySegment, long)}. */
    public TensorView bind(TensorShape shape, MemorySegment data, long byteOffset) {
        Checks.notNull(shape, "shape");
        Checks.notNull(data, "data");
        if (byteOffset < 0 || byteOffset % Float.BYTES != 0) {
            throw new IllegalArgumentException("byteOffset must be a non-negative multiple of 4 (a float's size), got "
                    + byteOffset);
        }
        long bytes = shape.elementCount() * Float.BYTES;
        if (byteOffset > data.byteSize() || bytes > data.byteSize() - byteOffset) {
            throw new IndexOutOfBoundsException("data has " + data.byteSize() + " bytes but shape " + shape + " needs "
                    + bytes + " from byte " + byteOffset);
        }
        return setSegment(shape, data, byteOffset / Float.BYTES, false);
    }

    /**
     * Gives this view a new shape over the same storage, e.g. a smaller last batch. A view of a whole
     * storage needs the new shape's element count to be the storage's; a window needs it to fit.
     */
    public TensorView reshape(TensorShape newShape) {
        Checks.notNull(newShape, "newShape");
        if (array != null) {
            return whole ? bind(newShape, array) : bind(newShape, array, (int) offset);
        }
        return whole ? bind(newShape, segment) : bind(newShape, segment, offset * Float.BYTES);
    }

    private TensorView setArray(TensorShape shape, float[] data, long offset, boolean whole) {
        if (data != array) {
            arrayAsSegment = null;
        }
        this.shape = shape;
        this.array = data;
        this.segment = null;
        this.offset = offset;
        this.whole = whole;
        return this;
    }

    private TensorView setSegment(TensorShape shape, MemorySegment data, long offset, boolean whole) {
        this.shape = shape;
        this.array = null;
        this.arrayAsSegment = null;
        this.segment = data;
        this.offset = offset;
        this.whole = whole;
        return this;
    }

    /** The shape. */
    public TensorShape shape() {
        return shape;
    }

    /** Whether the floats are in a {@code float[]} ({@link #array()}), else in a segment ({@link #segment()}). */
    public boolean isArray() {
        return array != null;
    }

    /**
     * The array this view is bound to.
     *
     * @throws IllegalStateException if it is bound to a segment
     */
    public float[] array() {
        if (array == null) {
            throw new IllegalStateException("this view is bound to a segment, not an array");
        }
        return array;
    }

    /**
     * The segment this view is bound to.
     *
     * @throws IllegalStateException if it is bound to an array
     */
    public MemorySegment segment() {
        if (segment == null) {
            throw new IllegalStateException("this view is bound to an array, not a segment");
        }
        return segment;
    }

    /** The element index of the tensor's first float in its array or segment. */
    public long offset() {
        return offset;
    }

    /** The array, or null when bound to a segment (for the facade). */
    float[] arrayOrNull() {
        return array;
    }

    /** The segment, or null when bound to an array (for the facade). */
    MemorySegment segmentOrNull() {
        return segment;
    }

    /** The storage as a segment: the bound segment, or the array wrapped once per array. */
    MemorySegment asSegment() {
        if (segment != null) {
            return segment;
        }
        if (arrayAsSegment == null) {
            arrayAsSegment = MemorySegment.ofArray(array);
        }
        return arrayAsSegment;
    }

    @Override
    public String toString() {
        return "TensorView[" + shape + ", " + (array != null ? "float[" + array.length + "]"
                : (segment.isNative() ? "native" : "heap") + " segment of " + segment.byteSize() + " bytes")
                + (offset == 0 ? "" : " from element " + offset) + "]";
    }
}
