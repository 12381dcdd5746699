package io.github.panamabn.kernels;

import java.util.Arrays;

/**
 * The shape and memory layout of a dense batch-norm tensor: batch N, channels C, and any number of
 * spatial dimensions (none for NC, one for NCL, two for NCHW, three for NCDHW).
 *
 * <p>Dimensions are given in logical order (N, C, spatial...) whatever the layout; the layout only
 * says how elements are placed in memory. Instances are immutable and thread-safe.
 */
public final class TensorShape {
    private final long batch;
    private final int channels;
    private final long[] spatial;
    private final Layout layout;
    private final long spatialSize;
    private final long elementCount;

    private TensorShape(Layout layout, long batch, int channels, long[] spatial) {
        if (layout == null) {
            throw new NullPointerException("layout must not be null");
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch (N) must be positive, got " + batch);
        }
        if (channels <= 0) {
            throw new IllegalArgumentException("channels (C) must be positive, got " + channels);
        }
        long s = 1;
        for (int i = 0; i < spatial.length; i++) {
            if (spatial[i] <= 0) {
                throw new IllegalArgumentException(
                        "spatial dimension " + i + " must be positive, got " + spatial[i]
                                + " in " + Arrays.toString(spatial));
            }
            s = multiply(s, spatial[i], spatial);
        }
        long perChannel = multiply(batch, s, spatial);
        this.layout = layout;
        this.batch = batch;
        this.channels = channels;
        this.spatial = spatial;
        this.spatialSize = s;
        this.elementCount = multiply(perChannel, channels, spatial);
        // Byte offsets must fit a long too.
        multiply(elementCount, Float.BYTES, spatial);
    }

    private long multiply(long a, long b, long[] spatialDims) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("shape N=" + batch + ", C=" + channels + ", spatial="
                    + Arrays.toString(spatialDims) + " has more elements than a long can index");
        }
    }

    /**
     * A shape in logical order.
     *
     * @param layout memory layout
     * @param batch N, positive
     * @param channels C, positive
     * @param spatial spatial dimensions, each positive (may be empty)
     * @throws IllegalArgumentException if a dimension is not positive or the element count overflows
     */
    public static TensorShape of(Layout layout, long batch, int channels, long... spatial) {
        if (spatial == null) {
            throw new NullPointerException("spatial must not be null (pass no values for an NC tensor)");
        }
        return new TensorShape(layout, batch, channels, spatial.clone());
    }

    /** An {@code [N][C]} tensor, as BatchNorm1d takes it. */
    public static TensorShape nc(long n, int c) {
        return of(Layout.CHANNELS_FIRST, n, c);
    }

    /** An {@code [N][C][L]} tensor. */
    public static TensorShape ncl(long n, int c, long l) {
        return of(Layout.CHANNELS_FIRST, n, c, l);
    }

    /** An {@code [N][C][H][W]} tensor. */
    public static TensorShape nchw(long n, int c, long h, long w) {
        return of(Layout.CHANNELS_FIRST, n, c, h, w);
    }

    /** An {@code [N][H][W][C]} (channels-last) tensor; note the argument order follows memory. */
    public static TensorShape nhwc(long n, long h, long w, int c) {
        return of(Layout.CHANNELS_LAST, n, c, h, w);
    }

    /** An {@code [N][C][D][H][W]} tensor. */
    public static TensorShape ncdhw(long n, int c, long d, long h, long w) {
        return of(Layout.CHANNELS_FIRST, n, c, d, h, w);
    }

    /** An {@code [N][D][H][W][C]} (channels-last) tensor; note the argument order follows memory. */
    public static TensorShape ndhwc(long n, long d, long h, long w, int c) {
        return of(Layout.CHANNELS_LAST, n, c, d, h, w);
    }

    /** The same logical shape in another layout. */
    public TensorShape withLayout(Layout newLayout) {
        return new TensorShape(newLayout, batch, channels, spatial);
    }

    /** N. */
    public long batch() {
        return batch;
    }

    /** C. */
    public int channels() {
        return channels;
    }

    /** The number of spatial dimensions (0 for NC). */
    public int spatialRank() {
        return spatial.length;
    }

    /** Spatial dimension {@code i}, {@code 0 <= i < spatialRank()}. */
    public long spatialDim(int i) {
        return spatial[i];
    }

    /** The product of the spatial dimensions (1 for NC). */
    public long spatialSize() {
        return spatialSize;
    }

    /** The declared layout. */
    public Layout layout() {
        return layout;
    }

    /**
     * True when channel {@code c} of sample {@code n} is strided by C in memory: the channels-last
     * layout, and any layout with a spatial size of 1 (where both layouts are the same memory).
     */
    public boolean isChannelInnermost() {
        return layout == Layout.CHANNELS_LAST || spatialSize == 1;
    }

    /** Elements per channel, N times the spatial size: the count batch statistics are taken over. */
    public long perChannelCount() {
        return batch * spatialSize;
    }

    /** N * C * spatial size. */
    public long elementCount() {
        return elementCount;
    }

    /** The memory index of element (n, c, s) where s indexes the flattened spatial dimensions. */
    public long index(long n, int c, long s) {
        return isChannelInnermost()
                ? (n * spatialSize + s) * channels + c
                : (n * channels + c) * spatialSize + s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorShape t && t.layout == layout && t.batch == batch
                && t.channels == channels && Arrays.equals(t.spatial, spatial);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(spatial) * 31 + Long.hashCode(batch) * 17 + channels * 7 + layout.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append(layout == Layout.CHANNELS_FIRST ? "NC" : "N").append(spatialName())
                .append(layout == Layout.CHANNELS_LAST ? "C" : "").append('[').append(batch);
        if (layout == Layout.CHANNELS_FIRST) {
            b.append('x').append(channels);
        }
        for (long d : spatial) {
            b.append('x').append(d);
        }
        if (layout == Layout.CHANNELS_LAST) {
            b.append('x').append(channels);
        }
        return b.append(']').toString();
    }

    private String spatialName() {
        return switch (spatial.length) {
            case 0 -> "";
            case 1 -> "L";
            case 2 -> "HW";
            case 3 -> "DHW";
            default -> "S" + spatial.length;
        };
    }
}
