package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.MemorySegment;

/** Plain-Java kernels: the reference for behaviour. Never touches {@code jdk.incubator.vector}. */
public final class ScalarBackend implements KernelBackend {
    /** Rows of a channels-last tensor reduced together, so the block stays in cache across channels. */
    static final int ROW_BLOCK = 4 * Welford.BLOCK;

    @Override
    public Implementation implementation() {
        return Implementation.SCALAR;
    }

    @Override
    public int scratchFloats() {
        return 0;
    }

    @Override
    public long statistics(TensorShape shape, float[] xa, MemorySegment xs, long xOffset, double[] mean, double[] m2,
                           float[] scratch) {
        int channels = shape.channels();
        if (shape.isChannelInnermost()) {
            long rows = shape.perChannelCount();
            long count = 0;
            for (long row = 0; row < rows; row += ROW_BLOCK) {
                long n = Math.min(ROW_BLOCK, rows - row);
                for (int c = 0; c < channels; c++) {
                    float pivot = Memory.get(xa, xs, xOffset + c);
                    Welford.accumulate(xa, xs, xOffset + row * channels + c, n, channels, pivot, mean, m2, c, count);
                }
                count += n;
            }
            return count;
        }
        long spatial = shape.spatialSize();
        for (int c = 0; c < channels; c++) {
            long count = 0;
            float pivot = Memory.get(xa, xs, xOffset + c * spatial);
            for (long n = 0; n < shape.batch(); n++) {
                count = Welford.accumulate(xa, xs, xOffset + (n * channels + c) * spatial, spatial, 1, pivot,
                        mean, m2, c, count);
            }
        }
        return shape.perChannelCount();
    }

    @Override
    public void normalize(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                          float[] ya, MemorySegment ys, long yOffset,
                          float[] center, float[] scale, float[] shift, float floor) {
        int channels = shape.channels();
        if (shape.isChannelInnermost()) {
            long rows = shape.perChannelCount();
            for (long row = 0; row < rows; row++) {
                normalizeRange(xa, xs, xOffset + row * channels, ya, ys, yOffset + row * channels, 0, channels,
                        center, scale, shift, floor);
            }
            return;
        }
        long spatial = shape.spatialSize();
        for (long n = 0; n < shape.batch(); n++) {
            for (int c = 0; c < channels; c++) {
                long at = (n * channels + c) * spatial;
                normalizeRun(xa, xs, xOffset + at, ya, ys, yOffset + at, spatial, center[c], scale[c], shift[c], floor);
            }
        }
    }

    /** Normalizes {@code len} contiguous elements of one channel. */
    static void normalizeRun(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt, long len,
                             float center, float scale, float shift, float floor) {
        for (long i = 0; i < len; i++) {
            float v = Math.fma(Memory.get(xa, xs, xAt + i) - center, scale, shift);
            Memory.set(ya, ys, yAt + i, Math.max(v, floor));
        }
    }

    /** Normalizes channels {@code [from, to)} of one channels-last row. */
    static void normalizeRange(float[] xa, MemorySegment xs, long xRow, float[] ya, MemorySegment ys, long yRow,
                               int from, int to, float[] center, float[] scale, float[] shift, float floor) {
        for (int c = from; c < to; c++) {
            float v = Math.fma(Memory.get(xa, xs, xRow + c) - center[c], scale[c], shift[c]);
            Memory.set(ya, ys, yRow + c, Math.max(v, floor));
        }
    }

    /** The gradient through an optional fused ReLU: dy where y > 0, else 0; dy itself without y. */
    static float gradient(float dy, float[] ya, MemorySegment ys, long yAt) {
        return ya == null && ys == null || Memory.get(ya, ys, yAt) > 0 ? dy : 0f;
    }

    @Override
    public void gradientSums(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                             float[] xa, MemorySegment xs, long xOffset, float[] ya, MemorySegment ys, long yOffset,
                             float[] center, double[] sumDy, double[] sumDyXc, float[] scratch) {
        for (int c = 0; c < shape.channels(); c++) {
            // Sums in double: the scalar twin favours clarity over speed here.
            double s1 = 0;
            double s2 = 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    long i = shape.index(n, c, s);
                    float g = gradient(Memory.get(dya, dys, dyOffset + i), ya, ys, yOffset + i);
                    s1 += g;
                    s2 += g * (double) (Memory.get(xa, xs, xOffset + i) - center[c]);
                }
            }
            sumDy[c] = s1;
            sumDyXc[c] = s2;
        }
    }

    @Override
    public void gradientApply(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                              float[] xa, MemorySegment xs, long xOffset, float[] ya, MemorySegment ys, long yOffset,
                              float[] dxa, MemorySegment dxs, long dxOffset,
                              float[] center, float[] k1, float[] k2, float[] k3) {
        int channels = shape.channels();
        long spatial = shape.spatialSize();
        boolean innermost = shape.isChannelInnermost();
        long total = shape.elementCount();
        for (long i = 0; i < total; i++) {
            int c = (int) (innermost ? i % channels : i / spatial % channels);
            applyOne(dya, dys, dyOffset + i, xa, xs, xOffset + i, ya, ys, yOffset + i, dxa, dxs, dxOffset + i,
                    center[c], k1[c], k2[c], k3[c]);
        }
    }

    /** One element of {@link #gradientApply}; shared with the vector kernels' tails. */
    static void applyOne(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                         float[] ya, MemorySegment ys, long yAt, float[] dxa, MemorySegment dxs, long dxAt,
                         float center, float k1, float k2, float k3) {
        float g = gradient(Memory.get(dya, dys, dyAt), ya, ys, yAt);
        float xc = Memory.get(xa, xs, xAt) - center;
        Memory.set(dxa, dxs, dxAt, Math.fma(k1, g, Math.fma(k2, xc, k3)));
    }
}
