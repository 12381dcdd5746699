package io.github.panamabn.kernels.internal;

import static io.github.panamabn.kernels.internal.Welford.BLOCK;
import static io.github.panamabn.kernels.internal.Welford.RECIPROCAL;

import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD kernels on the Vector API. Loaded only after {@link KernelProvider} has checked that the
 * module is readable, so no species is initialized where it cannot be used.
 *
 * <p>Statistics run Welford's update per lane in float, in four independent accumulators (the
 * update is a dependent chain of a subtract and an FMA), for at most {@link Welford#BLOCK} updates;
 * the lanes are then stored to scratch and merged into double by scalar code, so no vector ever
 * crosses a method boundary and nothing is boxed.
 */
public final class PanamaBackend implements KernelBackend {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Rows of a channels-last tensor reduced together: four accumulators of BLOCK rows each. */
    private static final int ROW_BLOCK = 4 * BLOCK;
    // Scratch: four accumulators' means [0, 4L) and M2s [4L, 8L); one more accumulator [8L, 10L);
    // the pivot of each lane [10L, 11L).
    private static final int SINGLE = 8 * LANES;
    private static final int PIVOT = 10 * LANES;
    private static final int SCRATCH = 11 * LANES;

    /** The vector width in bits this backend runs at. */
    public static int vectorBitSize() {
        return SPECIES.vectorBitSize();
    }

    @Override
    public Implementation implementation() {
        return Implementation.PANAMA;
    }

    @Override
    public int scratchFloats() {
        return SCRATCH;
    }

    private static FloatVector load(float[] a, MemorySegment s, long i) {
        return a != null
                ? FloatVector.fromArray(SPECIES, a, (int) i)
                : FloatVector.fromMemorySegment(SPECIES, s, i * Float.BYTES, ORDER);
    }

    private static void store(FloatVector v, float[] a, MemorySegment s, long i) {
        if (a != null) {
            v.intoArray(a, (int) i);
        } else {
            v.intoMemorySegment(s, i * Float.BYTES, ORDER);
        }
    }

    @Override
    public long statistics(TensorShape shape, float[] xa, MemorySegment xs, long xOffset, double[] mean, double[] m2,
                           float[] scratch) {
        Arrays.fill(scratch, 0, SCRATCH, 0f);
        if (shape.isChannelInnermost()) {
            statisticsChannelsLast(shape, xa, xs, xOffset, mean, m2, scratch);
        } else {
            statisticsChannelsFirst(shape, xa, xs, xOffset, mean, m2, scratch);
        }
        return shape.perChannelCount();
    }

    /**
     * Channels-first: each channel is N contiguous runs. Groups of four vectors go to the four
     * accumulators, a run's remaining whole vectors to one more, its last floats to the scalar helper.
     */
    private static void statisticsChannelsFirst(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                                                double[] mean, double[] m2, float[] acc) {
        int channels = shape.channels();
        long spatial = shape.spatialSize();
        long groups = spatial / (4L * LANES);
        long singles = spatial % (4L * LANES) / LANES;
        long tail = groups * 4L * LANES + singles * LANES;
        for (int c = 0; c < channels; c++) {
            long count = 0;
            float pivot = Memory.get(xa, xs, xOffset + c * spatial);
            Arrays.fill(acc, PIVOT, PIVOT + LANES, pivot);
            int kBank = 0;
            int kSingle = 0;
            for (long n = 0; n < shape.batch(); n++) {
                long base = xOffset + (n * channels + c) * spatial;
                for (long g = 0; g < groups; ) {
                    int steps = (int) Math.min(BLOCK - kBank, groups - g);
                    welfordSteps(xa, xs, base + g * 4L * LANES, LANES, steps, kBank, acc);
                    kBank += steps;
                    g += steps;
                    if (kBank == BLOCK) {
                        count = Welford.mergeLanes(acc, 0, 4 * LANES, kBank, pivot, mean, m2, c, count);
                        kBank = 0;
                    }
                }
                // vector tail
                for (long v = 0; v < singles; v++) {
                    singleStep(xa, xs, base + groups * 4L * LANES + v * LANES, ++kSingle, pivot, acc);
                    if (kSingle == BLOCK) {
                        count = Welford.mergeLanes(acc, SINGLE, LANES, kSingle, pivot, mean, m2, c, count);
                        kSingle = 0;
                    }
                }
                // scalar tail
                count = Welford.accumulate(xa, xs, base + tail, spatial - tail, 1, pivot, mean, m2, c, count);
            }
            if (kBank > 0) {
                count = Welford.mergeLanes(acc, 0, 4 * LANES, kBank, pivot, mean, m2, c, count);
            }
            if (kSingle > 0) {
                Welford.mergeLanes(acc, SINGLE, LANES, kSingle, pivot, mean, m2, c, count);
            }
        }
    }

    /**
     * Welford updates {@code k+1} to {@code k+steps} of the four accumulators at {@code acc[0, 8L)},
     * relative to the pivots at {@code acc[PIVOT, PIVOT+L)}: update t reads accumulator a's vector at
     * {@code at + 4 * stride * (t - 1) + a * stride}. Contiguous groups (stride L) in channels-first
     * memory, four rows of one channel block (stride C) in channels-last memory.
     */
    private static void welfordSteps(float[] xa, MemorySegment xs, long at, long stride, int steps, int k,
                                     float[] acc) {
        FloatVector p = FloatVector.fromArray(SPECIES, acc, PIVOT);
        FloatVector m0 = FloatVector.fromArray(SPECIES, acc, 0);
        FloatVector m1 = FloatVector.fromArray(SPECIES, acc, LANES);
        FloatVector m2 = FloatVector.fromArray(SPECIES, acc, 2 * LANES);
        FloatVector m3 = FloatVector.fromArray(SPECIES, acc, 3 * LANES);
        FloatVector q0 = FloatVector.fromArray(SPECIES, acc, 4 * LANES);
        FloatVector q1 = FloatVector.fromArray(SPECIES, acc, 5 * LANES);
        FloatVector q2 = FloatVector.fromArray(SPECIES, acc, 6 * LANES);
        FloatVector q3 = FloatVector.fromArray(SPECIES, acc, 7 * LANES);
        long i = at;
        for (int t = 1; t <= steps; t++, i += 4 * stride) {
            FloatVector r = FloatVector.broadcast(SPECIES, RECIPROCAL[k + t]);
            FloatVector x0 = load(xa, xs, i).sub(p);
            FloatVector x1 = load(xa, xs, i + stride).sub(p);
            FloatVector x2 = load(xa, xs, i + 2 * stride).sub(p);
            FloatVector x3 = load(xa, xs, i + 3 * stride).sub(p);
            FloatVector d0 = x0.sub(m0);
            FloatVector d1 = x1.sub(m1);
            FloatVector d2 = x2.sub(m2);
            FloatVector d3 = x3.sub(m3);
            m0 = d0.fma(r, m0);
            m1 = d1.fma(r, m1);
            m2 = d2.fma(r, m2);
            m3 = d3.fma(r, m3);
            q0 = d0.fma(x0.sub(m0), q0);
            q1 = d1.fma(x1.sub(m1), q1);
            q2 = d2.fma(x2.sub(m2), q2);
            q3 = d3.fma(x3.sub(m3), q3);
        }
        m0.intoArray(acc, 0);
        m1.intoArray(acc, LANES);
        m2.intoArray(acc, 2 * LANES);
        m3.intoArray(acc, 3 * LANES);
        q0.intoArray(acc, 4 * LANES);
        q1.intoArray(acc, 5 * LANES);
        q2.intoArray(acc, 6 * LANES);
        q3.intoArray(acc, 7 * LANES);
    }

    /** The {@code k}-th Welford update of the single accumulator with {@code LANES} contiguous floats. */
    private static void singleStep(float[] xa, MemorySegment xs, long at, int k, float pivot, float[] acc) {
        FloatVector m = FloatVector.fromArray(SPECIES, acc, SINGLE);
        FloatVector q = FloatVector.fromArray(SPECIES, acc, SINGLE + LANES);
        FloatVector v = load(xa, xs, at).sub(pivot);
        FloatVector d = v.sub(m);
        m = d.fma(FloatVector.broadcast(SPECIES, RECIPROCAL[k]), m);
        q = d.fma(v.sub(m), q);
        m.intoArray(acc, SINGLE);
        q.intoArray(acc, SINGLE + LANES);
    }

    /**
     * Channels-last: lanes are channels. Rows are taken in blocks of {@link #ROW_BLOCK} (still in
     * cache when the next channel block reads them), four rows at a time into four accumulators.
     * The last {@code C % LANES} channels and the last {@code rows % 4} rows go to the scalar helper.
     */
    private static void statisticsChannelsLast(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                                               double[] mean, double[] m2, float[] acc) {
        int channels = shape.channels();
        int vectorChannels = channels - channels % LANES;
        long rows = shape.perChannelCount();
        long vectorRows = rows - rows % 4;
        long count = 0;
        for (long row = 0; row < vectorRows; row += ROW_BLOCK) {
            int k = (int) (Math.min(ROW_BLOCK, vectorRows - row) / 4);
            long first = xOffset + row * channels;
            for (int j = 0; j < vectorChannels; j += LANES) {
                // Each channel's pivot is its value in the first row.
                load(xa, xs, xOffset + j).intoArray(acc, PIVOT);
                welfordSteps(xa, xs, first + j, channels, k, 0, acc);
                for (int a = 0; a < 4; a++) {
                    for (int lane = 0; lane < LANES; lane++) {
                        Welford.merge(mean, m2, j + lane, count + (long) a * k, k,
                                (double) acc[PIVOT + lane] + acc[a * LANES + lane], acc[(4 + a) * LANES + lane]);
                    }
                }
                Arrays.fill(acc, 0, 8 * LANES, 0f);
            }
            // scalar tail: the last channels
            for (int c = vectorChannels; c < channels; c++) {
                Welford.accumulate(xa, xs, first + c, 4L * k, channels, Memory.get(xa, xs, xOffset + c),
                        mean, m2, c, count);
            }
            count += 4L * k;
        }
        // scalar tail: the last rows % 4 rows
        for (int c = 0; c < channels; c++) {
            Welford.accumulate(xa, xs, xOffset + vectorRows * channels + c, rows - vectorRows, channels,
                    Memory.get(xa, xs, xOffset + c), mean, m2, c, count);
        }
    }

    @Override
    public void normalize(TensorShape shape, float[] xa, MemorySegment xs, long xOffset,
                          float[] ya, MemorySegment ys, long yOffset,
                          float[] center, float[] scale, float[] shift, float floor) {
        int channels = shape.channels();
        if (shape.isChannelInnermost()) {
            long rows = shape.perChannelCount();
            int vectorChannels = channels - channels % LANES;
            for (long row = 0; row < rows; row++) {
                long xRow = xOffset + row * channels;
                long yRow = yOffset + row * channels;
                normalizeRow(xa, xs, xRow, ya, ys, yRow, vectorChannels, center, scale, shift, floor);
                // scalar tail
                ScalarBackend.normalizeRange(xa, xs, xRow, ya, ys, yRow, vectorChannels, channels,
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

    private static void normalizeRow(float[] xa, MemorySegment xs, long xRow, float[] ya, MemorySegment ys, long yRow,
                                     int vectorChannels, float[] center, float[] scale, float[] shift, float floor) {
        for (int j = 0; j < vectorChannels; j += LANES) {
            FloatVector m = FloatVector.fromArray(SPECIES, center, j);
            FloatVector s = FloatVector.fromArray(SPECIES, scale, j);
            FloatVector b = FloatVector.fromArray(SPECIES, shift, j);
            store(load(xa, xs, xRow + j).sub(m).fma(s, b).max(floor), ya, ys, yRow + j);
        }
    }

    private static void normalizeRun(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                     long len, float center, float scale, float shift, float floor) {
        FloatVector m = FloatVector.broadcast(SPECIES, center);
        FloatVector s = FloatVector.broadcast(SPECIES, scale);
        FloatVector b = FloatVector.broadcast(SPECIES, shift);
        long i = 0;
        for (; i + 4L * LANES <= len; i += 4L * LANES) {
            FloatVector v0 = load(xa, xs, xAt + i);
            FloatVector v1 = load(xa, xs, xAt + i + LANES);
            FloatVector v2 = load(xa, xs, xAt + i + 2L * LANES);
            FloatVector v3 = load(xa, xs, xAt + i + 3L * LANES);
            store(v0.sub(m).fma(s, b).max(floor), ya, ys, yAt + i);
            store(v1.sub(m).fma(s, b).max(floor), ya, ys, yAt + i + LANES);
            store(v2.sub(m).fma(s, b).max(floor), ya, ys, yAt + i + 2L * LANES);
            store(v3.sub(m).fma(s, b).max(floor), ya, ys, yAt + i + 3L * LANES);
        }
        // vector tail
        for (; i + LANES <= len; i += LANES) {
            store(load(xa, xs, xAt + i).sub(m).fma(s, b).max(floor), ya, ys, yAt + i);
        }
        // scalar tail
        ScalarBackend.normalizeRun(xa, xs, xAt + i, ya, ys, yAt + i, len - i, center, scale, shift, floor);
    }

    // ---------------------------------------------------------------- backward

    /** dy, or dy masked to 0 where y is not above 0 when y is given (the gradient through a fused ReLU). */
    private static FloatVector gradient(FloatVector dy, float[] ya, MemorySegment ys, long yAt) {
        if (ya == null && ys == null) {
            return dy;
        }
        return FloatVector.zero(SPECIES).blend(dy, load(ya, ys, yAt).compare(VectorOperators.GT, 0f));
    }

    @Override
    public void gradientSums(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                             float[] xa, MemorySegment xs, long xOffset, float[] ya, MemorySegment ys, long yOffset,
                             float[] center, double[] sumDy, double[] sumDyXc, float[] scratch) {
        int channels = shape.channels();
        Arrays.fill(sumDy, 0, channels, 0);
        Arrays.fill(sumDyXc, 0, channels, 0);
        if (shape.isChannelInnermost()) {
            gradientSumsChannelsLast(shape, dya, dys, dyOffset, xa, xs, xOffset, ya, ys, yOffset,
                    center, sumDy, sumDyXc, scratch);
            return;
        }
        long spatial = shape.spatialSize();
        for (long n = 0; n < shape.batch(); n++) {
            for (int c = 0; c < channels; c++) {
                long at = (n * channels + c) * spatial;
                runSums(dya, dys, dyOffset + at, xa, xs, xOffset + at, ya, ys, yOffset + at, spatial,
                        center[c], sumDy, sumDyXc, c);
            }
        }
    }

    /**
     * Adds one contiguous run's sums to channel {@code c}: four float accumulators per sum for at most
     * {@link Welford#BLOCK} steps, then into double, so no float chain grows with the run.
     */
    private static void runSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                float[] ya, MemorySegment ys, long yAt, long len, float center,
                                double[] sumDy, double[] sumDyXc, int c) {
        FloatVector m = FloatVector.broadcast(SPECIES, center);
        double s1 = 0;
        double s2 = 0;
        long i = 0;
        long groupEnd = len - len % (4L * LANES);
        while (i < groupEnd) {
            long blockEnd = Math.min(groupEnd, i + (long) BLOCK * 4 * LANES);
            FloatVector a0 = FloatVector.zero(SPECIES);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector b2 = a0;
            FloatVector b3 = a0;
            for (; i < blockEnd; i += 4L * LANES) {
                FloatVector g0 = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
                FloatVector g1 = gradient(load(dya, dys, dyAt + i + LANES), ya, ys, yAt + i + LANES);
                FloatVector g2 = gradient(load(dya, dys, dyAt + i + 2L * LANES), ya, ys, yAt + i + 2L * LANES);
                FloatVector g3 = gradient(load(dya, dys, dyAt + i + 3L * LANES), ya, ys, yAt + i + 3L * LANES);
                a0 = a0.add(g0);
                a1 = a1.add(g1);
                a2 = a2.add(g2);
                a3 = a3.add(g3);
                b0 = g0.fma(load(xa, xs, xAt + i).sub(m), b0);
                b1 = g1.fma(load(xa, xs, xAt + i + LANES).sub(m), b1);
                b2 = g2.fma(load(xa, xs, xAt + i + 2L * LANES).sub(m), b2);
                b3 = g3.fma(load(xa, xs, xAt + i + 3L * LANES).sub(m), b3);
            }
            s1 += a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
            s2 += b0.add(b1).add(b2.add(b3)).reduceLanes(VectorOperators.ADD);
        }
        // vector tail
        for (; i + LANES <= len; i += LANES) {
            FloatVector g = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
            s1 += g.reduceLanes(VectorOperators.ADD);
            s2 += g.mul(load(xa, xs, xAt + i).sub(m)).reduceLanes(VectorOperators.ADD);
        }
        // scalar tail
        for (; i < len; i++) {
            float g = ScalarBackend.gradient(Memory.get(dya, dys, dyAt + i), ya, ys, yAt + i);
            s1 += g;
            s2 += g * (double) (Memory.get(xa, xs, xAt + i) - center);
        }
        sumDy[c] += s1;
        sumDyXc[c] += s2;
    }

    /** Channels-last sums: lanes are channels, rows in blocks, four rows at a time, as in the statistics. */
    private static void gradientSumsChannelsLast(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                                                 float[] xa, MemorySegment xs, long xOffset,
                                                 float[] ya, MemorySegment ys, long yOffset,
                                                 float[] center, double[] sumDy, double[] sumDyXc, float[] acc) {
        int channels = shape.channels();
        int vectorChannels = channels - channels % LANES;
        long rows = shape.perChannelCount();
        long vectorRows = rows - rows % 4;
        for (long row = 0; row < vectorRows; row += ROW_BLOCK) {
            long blockRows = Math.min(ROW_BLOCK, vectorRows - row);
            long first = row * channels;
            for (int j = 0; j < vectorChannels; j += LANES) {
                rowSums(dya, dys, dyOffset + first + j, xa, xs, xOffset + first + j, ya, ys, yOffset + first + j,
                        blockRows, channels, center, j, acc);
                for (int lane = 0; lane < LANES; lane++) {
                    sumDy[j + lane] += acc[lane];
                    sumDyXc[j + lane] += acc[LANES + lane];
                }
            }
        }
        // scalar tail: the last channels of the vector rows, then every channel of the last rows
        for (long row = 0; row < rows; row++) {
            int from = row < vectorRows ? vectorChannels : 0;
            for (int c = from; c < channels; c++) {
                long i = row * channels + c;
                float g = ScalarBackend.gradient(Memory.get(dya, dys, dyOffset + i), ya, ys, yOffset + i);
                sumDy[c] += g;
                sumDyXc[c] += g * (double) (Memory.get(xa, xs, xOffset + i) - center[c]);
            }
        }
    }

    /** Sums of one channel block over {@code rows} rows (a multiple of 4) into {@code acc[0, 2L)}. */
    private static void rowSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                float[] ya, MemorySegment ys, long yAt, long rows, int channels, float[] center, int j,
                                float[] acc) {
        // Vectors stay inside one method: one passed as an argument is boxed when the call is not inlined.
        FloatVector m = FloatVector.fromArray(SPECIES, center, j);
        FloatVector a0 = FloatVector.zero(SPECIES);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector b2 = a0;
        FloatVector b3 = a0;
        long c1 = channels;
        long c2 = 2L * channels;
        long c3 = 3L * channels;
        for (long i = 0; i < rows * channels; i += 4L * channels) {
            FloatVector g0 = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
            FloatVector g1 = gradient(load(dya, dys, dyAt + i + c1), ya, ys, yAt + i + c1);
            FloatVector g2 = gradient(load(dya, dys, dyAt + i + c2), ya, ys, yAt + i + c2);
            FloatVector g3 = gradient(load(dya, dys, dyAt + i + c3), ya, ys, yAt + i + c3);
            a0 = a0.add(g0);
            a1 = a1.add(g1);
            a2 = a2.add(g2);
            a3 = a3.add(g3);
            b0 = g0.fma(load(xa, xs, xAt + i).sub(m), b0);
            b1 = g1.fma(load(xa, xs, xAt + i + c1).sub(m), b1);
            b2 = g2.fma(load(xa, xs, xAt + i + c2).sub(m), b2);
            b3 = g3.fma(load(xa, xs, xAt + i + c3).sub(m), b3);
        }
        a0.add(a1).add(a2.add(a3)).intoArray(acc, 0);
        b0.add(b1).add(b2.add(b3)).intoArray(acc, LANES);
    }

    @Override
    public void gradientApply(TensorShape shape, float[] dya, MemorySegment dys, long dyOffset,
                              float[] xa, MemorySegment xs, long xOffset, float[] ya, MemorySegment ys, long yOffset,
                              float[] dxa, MemorySegment dxs, long dxOffset,
                              float[] center, float[] k1, float[] k2, float[] k3) {
        int channels = shape.channels();
        if (shape.isChannelInnermost()) {
            int vectorChannels = channels - channels % LANES;
            long rows = shape.perChannelCount();
            for (long row = 0; row < rows; row++) {
                long r = row * channels;
                for (int j = 0; j < vectorChannels; j += LANES) {
                    long i = r + j;
                    FloatVector g = gradient(load(dya, dys, dyOffset + i), ya, ys, yOffset + i);
                    FloatVector xc = load(xa, xs, xOffset + i).sub(FloatVector.fromArray(SPECIES, center, j));
                    FloatVector rest = xc.fma(FloatVector.fromArray(SPECIES, k2, j), FloatVector.fromArray(SPECIES, k3, j));
                    store(g.fma(FloatVector.fromArray(SPECIES, k1, j), rest), dxa, dxs, dxOffset + i);
                }
                // scalar tail
                for (int c = vectorChannels; c < channels; c++) {
                    long i = r + c;
                    ScalarBackend.applyOne(dya, dys, dyOffset + i, xa, xs, xOffset + i, ya, ys, yOffset + i,
                            dxa, dxs, dxOffset + i, center[c], k1[c], k2[c], k3[c]);
                }
            }
            return;
        }
        long spatial = shape.spatialSize();
        for (long n = 0; n < shape.batch(); n++) {
            for (int c = 0; c < channels; c++) {
                long at = (n * channels + c) * spatial;
                FloatVector m = FloatVector.broadcast(SPECIES, center[c]);
                FloatVector v1 = FloatVector.broadcast(SPECIES, k1[c]);
                FloatVector v2 = FloatVector.broadcast(SPECIES, k2[c]);
                FloatVector v3 = FloatVector.broadcast(SPECIES, k3[c]);
                long i = 0;
                for (; i + LANES <= spatial; i += LANES) {
                    long e = at + i;
                    FloatVector g = gradient(load(dya, dys, dyOffset + e), ya, ys, yOffset + e);
                    FloatVector rest = load(xa, xs, xOffset + e).sub(m).fma(v2, v3);
                    store(g.fma(v1, rest), dxa, dxs, dxOffset + e);
                }
                // scalar tail
                for (; i < spatial; i++) {
                    long e = at + i;
                    ScalarBackend.applyOne(dya, dys, dyOffset + e, xa, xs, xOffset + e, ya, ys, yOffset + e,
                            dxa, dxs, dxOffset + e, center[c], k1[c], k2[c], k3[c]);
                }
            }
        }
    }
}
