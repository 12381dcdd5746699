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
}
