package io.github.panamabn.kernels.internal;

import static io.github.panamabn.kernels.internal.Welford.FLOAT;

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
    public long statistics(TensorShape shape, MemorySegment x, long xOffset, double[] mean, double[] m2,
                           float[] scratch) {
        int channels = shape.channels();
        if (shape.isChannelInnermost()) {
            long rows = shape.perChannelCount();
            long count = 0;
            for (long row = 0; row < rows; row += ROW_BLOCK) {
                long n = Math.min(ROW_BLOCK, rows - row);
                for (int c = 0; c < channels; c++) {
                    float pivot = x.getAtIndex(FLOAT, xOffset + c);
                    Welford.accumulate(x, xOffset + row * channels + c, n, channels, pivot, mean, m2, c, count);
                }
                count += n;
            }
            return count;
        }
        long spatial = shape.spatialSize();
        for (int c = 0; c < channels; c++) {
            long count = 0;
            float pivot = x.getAtIndex(FLOAT, xOffset + c * spatial);
            for (long n = 0; n < shape.batch(); n++) {
                count = Welford.accumulate(x, xOffset + (n * channels + c) * spatial, spatial, 1, pivot,
                        mean, m2, c, count);
            }
        }
        return shape.perChannelCount();
    }

    @Override
    public void normalize(TensorShape shape, MemorySegment x, long xOffset, MemorySegment y, long yOffset,
                          float[] center, float[] scale, float[] shift, float floor) {
        int channels = shape.channels();
        if (shape.isChannelInnermost()) {
            long rows = shape.perChannelCount();
            for (long row = 0; row < rows; row++) {
                normalizeRange(x, xOffset + row * channels, y, yOffset + row * channels, 0, channels,
                        center, scale, shift, floor);
            }
            return;
        }
        long spatial = shape.spatialSize();
        for (long n = 0; n < shape.batch(); n++) {
            for (int c = 0; c < channels; c++) {
                long at = (n * channels + c) * spatial;
                normalizeRun(x, xOffset + at, y, yOffset + at, spatial, center[c], scale[c], shift[c], floor);
            }
        }
    }

    /** Normalizes {@code len} contiguous elements of one channel. */
    static void normalizeRun(MemorySegment x, long xAt, MemorySegment y, long yAt, long len,
                             float center, float scale, float shift, float floor) {
        for (long i = 0; i < len; i++) {
            float v = Math.fma(x.getAtIndex(FLOAT, xAt + i) - center, scale, shift);
            y.setAtIndex(FLOAT, yAt + i, Math.max(v, floor));
        }
    }

    /** Normalizes channels {@code [from, to)} of one channels-last row. */
    static void normalizeRange(MemorySegment x, long xRow, MemorySegment y, long yRow, int from, int to,
                               float[] center, float[] scale, float[] shift, float floor) {
        for (int c = from; c < to; c++) {
            float v = Math.fma(x.getAtIndex(FLOAT, xRow + c) - center[c], scale[c], shift[c]);
            y.setAtIndex(FLOAT, yRow + c, Math.max(v, floor));
        }
    }
}
