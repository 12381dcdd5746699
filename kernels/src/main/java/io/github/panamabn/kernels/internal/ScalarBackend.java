package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import java.lang.foreign.MemorySegment;

/** Plain-Java loops: the reference for behaviour. Never touches {@code jdk.incubator.vector}. */
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
    public int channelGroup() {
        return 64;
    }

    @Override
    public void sampleStatistics(float[] xa, MemorySegment xs, long first, long samples, int channels, long spatial,
                                 long sampleStride, float[] pivots, int pivotFrom, double[] mean, double[] m2,
                                 int slot, int slotStride, float[] scratch) {
        for (long n = 0; n < samples; n++) {
            for (int j = 0; j < channels; j++) {
                Welford.accumulate(xa, xs, first + n * sampleStride + j * spatial, spatial, 1, pivots[pivotFrom + j],
                        mean, m2, slot + j * slotStride, n * spatial);
            }
        }
    }

    @Override
    public void rowStatistics(float[] xa, MemorySegment xs, long first, long rows, int channels, int c0, int c1,
                              float[] pivots, double[] mean, double[] m2, int slot, float[] scratch,
                              boolean streaming) {
        long count = 0;
        for (long row = 0; row < rows; row += ROW_BLOCK) {
            long n = Math.min(ROW_BLOCK, rows - row);
            for (int c = c0; c < c1; c++) {
                Welford.accumulate(xa, xs, first + row * channels + c, n, channels, pivots[c], mean, m2, slot + c,
                        count);
            }
            count += n;
        }
    }

    @Override
    public boolean runsEqual(float[] xa, MemorySegment xs, long first, long stride, long length, long runs,
                             float value) {
        for (long r = 0; r < runs; r++) {
            for (long i = first + r * stride; i < first + r * stride + length; i++) {
                if (Memory.get(xa, xs, i) != value) {
                    return false;
                }
            }
        }
        return true;
    }

    @Override
    public void normalizeRuns(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                              long stride, long length, long runs, float center, float scale, float shift,
                              float floor) {
        for (long r = 0; r < runs; r++) {
            normalizeRun(xa, xs, xFirst + r * stride, ya, ys, yFirst + r * stride, length, center, scale, shift,
                    floor);
        }
    }

    @Override
    public void normalizeRows(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                              long rows, int channels, float[] center, float[] scale, float[] shift, float floor,
                              float[] scratch) {
        for (long row = 0; row < rows; row++) {
            normalizeRange(xa, xs, xFirst + row * channels, ya, ys, yFirst + row * channels, 0, channels,
                    center, scale, shift, floor);
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
    public void runGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long stride, long length,
                                long runs, float center, double[] sumDy, double[] sumDyXc, int slot,
                                float[] scratch) {
        // Sums in double: the scalar twin favours clarity over speed here.
        for (long r = 0; r < runs; r++) {
            double s1 = 0;
            double s2 = 0;
            for (long i = r * stride; i < r * stride + length; i++) {
                float g = gradient(Memory.get(dya, dys, dyFirst + i), ya, ys, yFirst + i);
                s1 += g;
                s2 += g * (double) (Memory.get(xa, xs, xFirst + i) - center);
            }
            sumDy[slot] += s1;
            sumDyXc[slot] += s2;
        }
    }

    @Override
    public void rowGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long rows, int channels,
                                int c0, int c1, float[] center, double[] sumDy, double[] sumDyXc, int slot,
                                float[] scratch, boolean streaming) {
        for (int c = c0; c < c1; c++) {
            sumDy[slot + c] = 0;
            sumDyXc[slot + c] = 0;
        }
        addRowGradientSums(dya, dys, dyFirst, xa, xs, xFirst, ya, ys, yFirst, rows, channels, c0, c1, center,
                sumDy, sumDyXc, slot);
    }

    /** Adds the rows' sums of channels {@code [c0, c1)} in double; also used for rows narrower than a vector. */
    static void addRowGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                   long xFirst, float[] ya, MemorySegment ys, long yFirst, long rows,
                                   int channels, int c0, int c1, float[] center, double[] sumDy, double[] sumDyXc,
                                   int slot) {
        for (long row = 0; row < rows; row++) {
            for (int c = c0; c < c1; c++) {
                long i = row * channels + c;
                float g = gradient(Memory.get(dya, dys, dyFirst + i), ya, ys, yFirst + i);
                sumDy[slot + c] += g;
                sumDyXc[slot + c] += g * (double) (Memory.get(xa, xs, xFirst + i) - center[c]);
            }
        }
    }

    @Override
    public void applyGradientRuns(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                  long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                  MemorySegment dxs, long dxFirst, long stride, long length, long runs, float center,
                                  float k1, float k2, float k3) {
        for (long r = 0; r < runs; r++) {
            for (long i = r * stride; i < r * stride + length; i++) {
                applyOne(dya, dys, dyFirst + i, xa, xs, xFirst + i, ya, ys, yFirst + i, dxa, dxs, dxFirst + i,
                        center, k1, k2, k3);
            }
        }
    }

    @Override
    public void applyGradientRows(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                  long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                  MemorySegment dxs, long dxFirst, long rows, int channels, float[] center,
                                  float[] k1, float[] k2, float[] k3, float[] scratch) {
        for (long row = 0; row < rows; row++) {
            for (int c = 0; c < channels; c++) {
                long i = row * channels + c;
                applyOne(dya, dys, dyFirst + i, xa, xs, xFirst + i, ya, ys, yFirst + i, dxa, dxs, dxFirst + i,
                        center[c], k1[c], k2[c], k3[c]);
            }
        }
    }

    /** One element of the gradient apply; shared with the vector kernels' tails. */
    static void applyOne(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                         float[] ya, MemorySegment ys, long yAt, float[] dxa, MemorySegment dxs, long dxAt,
                         float center, float k1, float k2, float k3) {
        float g = gradient(Memory.get(dya, dys, dyAt), ya, ys, yAt);
        float xc = Memory.get(xa, xs, xAt) - center;
        Memory.set(dxa, dxs, dxAt, Math.fma(k1, g, Math.fma(k2, xc, k3)));
    }

    // ---------------------------------------------------------------- per-sample norms (layer, RMS)

    @Override
    public double sumSquares(float[] xa, MemorySegment xs, long first, long length, float[] scratch) {
        // In double: no square overflows or underflows, so the caller never has to redo it.
        double s = 0;
        for (long i = first; i < first + length; i++) {
            double v = Memory.get(xa, xs, i);
            s += v * v;
        }
        return s;
    }

    @Override
    public void normalizeAffine(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                int length, float center, float scale, float shift, float[] weight, float[] bias) {
        normalizeAffineRange(xa, xs, xAt, ya, ys, yAt, 0, length, center, scale, shift, weight, bias);
    }

    /** The same floats as the vector twin's; nothing read ahead. */
    @Override
    public float normalizeTouching(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                   long length, float center, float scale, float shift, float[] weight, float[] bias,
                                   long touchAt, long touchLength) {
        if (weight == null) {
            normalizeRuns(xa, xs, xAt, ya, ys, yAt, 0, length, 1, center, scale, shift, Float.NEGATIVE_INFINITY);
        } else {
            normalizeAffineRange(xa, xs, xAt, ya, ys, yAt, 0, (int) length, center, scale, shift, weight, bias);
        }
        return 0;
    }

    @Override
    public void normalizeAffineRows(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                    int length, int rows, float[] center, float[] scale, float[] shift, int unit,
                                    float[] weight, float[] bias) {
        for (int q = 0; q < rows; q++) {
            normalizeAffineRange(xa, xs, xAt + (long) q * length, ya, ys, yAt + (long) q * length, 0, length,
                    center[unit + q], scale[unit + q], shift[unit + q], weight, bias);
        }
    }

    /** Elements {@code [from, to)} of one row of {@link #normalizeAffine}; shared with the vector tails. */
    static void normalizeAffineRange(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                     int from, int to, float center, float scale, float shift, float[] weight,
                                     float[] bias) {
        for (int i = from; i < to; i++) {
            float t = Math.fma(Memory.get(xa, xs, xAt + i) - center, scale, shift);
            Memory.set(ya, ys, yAt + i, Math.fma(t, weight[i], bias == null ? 0f : bias[i]));
        }
    }

    @Override
    public void add(float[] aa, MemorySegment as, long aAt, float[] ba, MemorySegment bs, long bAt, float[] outa,
                    MemorySegment outs, long outAt, long length) {
        addRange(aa, as, aAt, ba, bs, bAt, outa, outs, outAt, 0, length);
    }

    /** Elements {@code [from, to)} of {@link #add}; shared with the vector tails. */
    static void addRange(float[] aa, MemorySegment as, long aAt, float[] ba, MemorySegment bs, long bAt, float[] outa,
                         MemorySegment outs, long outAt, long from, long to) {
        for (long i = from; i < to; i++) {
            Memory.set(outa, outs, outAt + i, Memory.get(aa, as, aAt + i) + Memory.get(ba, bs, bAt + i));
        }
    }

    @Override
    public void weightedGradientSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs,
                                     long xAt, int length, float center, float[] weight, double[] sums, int slot,
                                     float[] scratch) {
        double s1 = 0;
        double s2 = 0;
        for (int i = 0; i < length; i++) {
            float g = Memory.get(dya, dys, dyAt + i) * weight[i];
            s1 += g;
            s2 += g * (double) (Memory.get(xa, xs, xAt + i) - center);
        }
        sums[slot] = s1;
        sums[slot + 1] = s2;
    }

    @Override
    public void applyWeightedGradient(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs,
                                      long xAt, float[] dxa, MemorySegment dxs, long dxAt, int length, float center,
                                      float[] weight, float k1, float k2, float k3) {
        applyWeightedRange(dya, dys, dyAt, xa, xs, xAt, dxa, dxs, dxAt, 0, length, center, weight, k1, k2, k3);
    }

    /** Elements {@code [from, to)} of {@link #applyWeightedGradient}; shared with the vector tails. */
    static void applyWeightedRange(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                   float[] dxa, MemorySegment dxs, long dxAt, int from, int to, float center,
                                   float[] weight, float k1, float k2, float k3) {
        for (int i = from; i < to; i++) {
            float g = Memory.get(dya, dys, dyAt + i) * weight[i];
            float xc = Memory.get(xa, xs, xAt + i) - center;
            Memory.set(dxa, dxs, dxAt + i, Math.fma(g, k1, Math.fma(xc, k2, k3)));
        }
    }

    @Override
    public void columnSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                           long rowFrom, long rowTo, int features, int f0, int f1, float[] center, float[] scale,
                           double[] dWeight, double[] dBias, int slot, float[] scratch) {
        for (int f = f0; f < f1; f++) {
            columnSum(dya, dys, dyFirst, xa, xs, xFirst, rowFrom, rowTo, features, f, center, scale, dWeight, dBias,
                    slot);
        }
    }

    /**
     * One column of {@link #columnSums} the way the vector loops sum each of theirs: float for
     * {@link Welford#BLOCK} rows, then double.
     */
    static void columnSum(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                          long rowFrom, long rowTo, int features, int f, float[] center, float[] scale,
                          double[] dWeight, double[] dBias, int slot) {
        double w = 0;
        double b = 0;
        for (long r0 = rowFrom; r0 < rowTo; r0 += Welford.BLOCK) {
            long r1 = Math.min(rowTo, r0 + Welford.BLOCK);
            float wf = 0;
            float bf = 0;
            for (long r = r0; r < r1; r++) {
                long at = r * features + f;
                float d = Memory.get(dya, dys, dyFirst + at);
                float xhat = (Memory.get(xa, xs, xFirst + at) - center[(int) r]) * scale[(int) r];
                bf += d;
                wf = Math.fma(d, xhat, wf);
            }
            w += wf;
            b += bf;
        }
        dWeight[slot + f] += w;
        dBias[slot + f] += b;
    }
}
