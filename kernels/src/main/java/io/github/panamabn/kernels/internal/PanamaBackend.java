package io.github.panamabn.kernels.internal;

import static io.github.panamabn.kernels.internal.Welford.BLOCK;
import static io.github.panamabn.kernels.internal.Welford.RECIPROCAL;

import io.github.panamabn.kernels.Implementation;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD loops on the Vector API. Loaded only after {@link KernelProvider} has checked that the module
 * is readable, so no species is initialized where it cannot be used.
 *
 * <p>Statistics run Welford's update per lane in float, in four independent accumulators (the
 * update is a dependent chain of a subtract and an FMA), for at most {@link Welford#BLOCK} updates;
 * the lanes are then stored to scratch and merged into double by scalar code, so no vector ever
 * crosses a method boundary and nothing is boxed.
 *
 * <p>Channels-last rows whose width C is not a multiple of the lane count L end in one vector over
 * the last L channels, overlapping the one before; reductions keep only its new lanes, and
 * elementwise loops compute it before the row's other vectors and store it after them, so that in
 * place the row's other vectors still read the original input. Rows narrower than a vector repeat
 * the per-channel parameters over {@code lcm(C, L)} floats and run as one flat loop.
 */
public final class PanamaBackend implements KernelBackend {
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    static final int LANES = SPECIES.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    /** Rows of a channels-last piece reduced together: four accumulators of BLOCK rows each. */
    private static final int ROW_BLOCK = 4 * BLOCK;
    // Scratch: four accumulators' means [0, 4L) and M2s [4L, 8L); one more accumulator [8L, 10L);
    // a pivot vector [10L, 11L); from [11L), four parameter arrays repeated over one period, for rows
    // narrower than a vector (the period lcm(C, L) is at most L (L - 1) floats).
    private static final int SINGLE = 8 * LANES;
    private static final int PIVOT = 10 * LANES;
    private static final int PERIOD_MAX = LANES * (LANES - 1);
    private static final int PERIODIC = 11 * LANES;
    private static final int SCRATCH = PERIODIC + 4 * PERIOD_MAX;

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

    /** lcm(C, L): the period of a channels-last tensor's channel pattern in whole vectors. */
    private static int period(int channels) {
        int a = channels;
        int b = LANES;
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return channels / a * LANES;
    }

    /** Repeats {@code values} over one period into {@code scratch[at ..]}. */
    private static void repeat(float[] values, int channels, int period, float[] scratch, int at) {
        for (int i = 0; i < period; i++) {
            scratch[at + i] = values[i % channels];
        }
    }

    // ---------------------------------------------------------------- statistics

    /**
     * Groups of four vectors go to the four accumulators, a run's remaining whole vectors to one
     * more, its last floats to the scalar helper.
     */
    @Override
    public void runStatistics(float[] xa, MemorySegment xs, long first, long stride, long length, long runs,
                              float pivot, double[] mean, double[] m2, int slot, float[] acc) {
        Arrays.fill(acc, 0, PIVOT, 0f);
        Arrays.fill(acc, PIVOT, PIVOT + LANES, pivot);
        long groups = length / (4L * LANES);
        long singles = length % (4L * LANES) / LANES;
        long tail = groups * 4L * LANES + singles * LANES;
        long count = 0;
        int kBank = 0;
        int kSingle = 0;
        for (long r = 0; r < runs; r++) {
            long base = first + r * stride;
            for (long g = 0; g < groups; ) {
                int steps = (int) Math.min(BLOCK - kBank, groups - g);
                welfordSteps(xa, xs, base + g * 4L * LANES, LANES, steps, kBank, acc, PIVOT, acc);
                kBank += steps;
                g += steps;
                if (kBank == BLOCK) {
                    count = Welford.mergeLanes(acc, 0, 4 * LANES, kBank, pivot, mean, m2, slot, count);
                    kBank = 0;
                }
            }
            // vector tail
            for (long v = 0; v < singles; v++) {
                singleStep(xa, xs, base + groups * 4L * LANES + v * LANES, ++kSingle, pivot, acc);
                if (kSingle == BLOCK) {
                    count = Welford.mergeLanes(acc, SINGLE, LANES, kSingle, pivot, mean, m2, slot, count);
                    kSingle = 0;
                }
            }
            // scalar tail
            count = Welford.accumulate(xa, xs, base + tail, length - tail, 1, pivot, mean, m2, slot, count);
        }
        if (kBank > 0) {
            count = Welford.mergeLanes(acc, 0, 4 * LANES, kBank, pivot, mean, m2, slot, count);
        }
        if (kSingle > 0) {
            Welford.mergeLanes(acc, SINGLE, LANES, kSingle, pivot, mean, m2, slot, count);
        }
    }

    /**
     * Welford updates {@code k+1} to {@code k+steps} of the four accumulators at {@code acc[0, 8L)},
     * relative to the pivots at {@code pivots[pivotAt, pivotAt+L)}: update t reads accumulator a's vector
     * at {@code at + 4 * stride * (t - 1) + a * stride}. Contiguous groups (stride L) in channels-first
     * memory, four rows of one channel block (stride C) in channels-last memory.
     */
    private static void welfordSteps(float[] xa, MemorySegment xs, long at, long stride, int steps, int k,
                                     float[] pivots, int pivotAt, float[] acc) {
        FloatVector p = FloatVector.fromArray(SPECIES, pivots, pivotAt);
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
     * Lanes are channels. Rows are taken in blocks of {@link #ROW_BLOCK} (a block of one channel
     * vector spans few cache lines, still cached when the next vector reads their other half), four
     * rows at a time into four accumulators. The last {@code rows % 4} rows, and all rows narrower
     * than a vector, go to the scalar helper.
     */
    @Override
    public void rowStatistics(float[] xa, MemorySegment xs, long first, long rows, int channels, int c0, int c1,
                              float[] pivots, double[] mean, double[] m2, int slot, float[] acc) {
        long vectorRows = channels < LANES ? 0 : rows - rows % 4;
        int vectorEnd = c0 + (c1 - c0) / LANES * LANES;
        Arrays.fill(acc, 0, 8 * LANES, 0f);
        long count = 0;
        for (long row = 0; row < vectorRows; row += ROW_BLOCK) {
            int k = (int) (Math.min(ROW_BLOCK, vectorRows - row) / 4);
            long at = first + row * channels;
            for (int j = c0; j < vectorEnd; j += LANES) {
                welfordSteps(xa, xs, at + j, channels, k, 0, pivots, j, acc);
                mergeRowLanes(acc, k, pivots, j, 0, mean, m2, slot, count);
            }
            if (vectorEnd < c1) {
                // vector tail: the last L channels; lanes before vectorEnd were counted already
                int j = c1 - LANES;
                welfordSteps(xa, xs, at + j, channels, k, 0, pivots, j, acc);
                mergeRowLanes(acc, k, pivots, j, vectorEnd - j, mean, m2, slot, count);
            }
            count += 4L * k;
        }
        // scalar tail
        if (vectorRows < rows) {
            for (int c = c0; c < c1; c++) {
                Welford.accumulate(xa, xs, first + vectorRows * channels + c, rows - vectorRows, channels,
                        pivots[c], mean, m2, slot + c, count);
            }
        }
    }

    /**
     * Merges lanes {@code [fromLane, L)} of the four accumulators (k updates each) into channels
     * {@code j + lane}, which hold {@code count} elements, then zeroes the accumulators. The four have
     * equal counts, so they combine as one block of 4k (mean of the means, M2 plus k times the spread of
     * the means); the block's Chan weights are the same for every lane.
     */
    private static void mergeRowLanes(float[] acc, int k, float[] pivots, int j, int fromLane,
                                      double[] mean, double[] m2, int slot, long count) {
        long nb = 4L * k;
        double n = (double) count + nb;
        double w1 = nb / n;
        double w2 = count * (double) nb / n;
        for (int lane = fromLane; lane < LANES; lane++) {
            double a0 = acc[lane];
            double a1 = acc[LANES + lane];
            double a2 = acc[2 * LANES + lane];
            double a3 = acc[3 * LANES + lane];
            double mb = (a0 + a1 + a2 + a3) * 0.25;
            double spread = (a0 - mb) * (a0 - mb) + (a1 - mb) * (a1 - mb) + (a2 - mb) * (a2 - mb)
                    + (a3 - mb) * (a3 - mb);
            double qb = (double) acc[4 * LANES + lane] + acc[5 * LANES + lane] + acc[6 * LANES + lane]
                    + acc[7 * LANES + lane] + k * spread;
            int c = slot + j + lane;
            double blockMean = pivots[j + lane] + mb;
            if (count == 0) {
                mean[c] = blockMean;
                m2[c] = qb;
            } else {
                double d = blockMean - mean[c];
                mean[c] += d * w1;
                m2[c] += qb + d * d * w2;
            }
        }
        Arrays.fill(acc, 0, 8 * LANES, 0f);
    }

    @Override
    public boolean runsEqual(float[] xa, MemorySegment xs, long first, long stride, long length, long runs,
                             float value) {
        FloatVector v = FloatVector.broadcast(SPECIES, value);
        for (long r = 0; r < runs; r++) {
            long at = first + r * stride;
            long i = 0;
            for (; i + 4L * LANES <= length; i += 4L * LANES) {
                boolean differs = load(xa, xs, at + i).compare(VectorOperators.NE, v)
                        .or(load(xa, xs, at + i + LANES).compare(VectorOperators.NE, v))
                        .or(load(xa, xs, at + i + 2L * LANES).compare(VectorOperators.NE, v))
                        .or(load(xa, xs, at + i + 3L * LANES).compare(VectorOperators.NE, v))
                        .anyTrue();
                if (differs) {
                    return false;
                }
            }
            // scalar tail
            for (; i < length; i++) {
                if (Memory.get(xa, xs, at + i) != value) {
                    return false;
                }
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- normalization

    @Override
    public void normalizeRuns(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                              long stride, long length, long runs, float center, float scale, float shift,
                              float floor) {
        for (long r = 0; r < runs; r++) {
            normalizeRun(xa, xs, xFirst + r * stride, ya, ys, yFirst + r * stride, length, center, scale, shift,
                    floor);
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

    @Override
    public void normalizeRows(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                              long rows, int channels, float[] center, float[] scale, float[] shift, float floor,
                              float[] scratch) {
        if (channels < LANES) {
            normalizeNarrowRows(xa, xs, xFirst, ya, ys, yFirst, rows, channels, center, scale, shift, floor, scratch);
            return;
        }
        int vectorEnd = channels - channels % LANES;
        int last = channels - LANES;
        for (long row = 0; row < rows; row++) {
            long xRow = xFirst + row * channels;
            long yRow = yFirst + row * channels;
            // vector tail first, stored last (see the class comment)
            FloatVector t = load(xa, xs, xRow + last).sub(FloatVector.fromArray(SPECIES, center, last))
                    .fma(FloatVector.fromArray(SPECIES, scale, last), FloatVector.fromArray(SPECIES, shift, last))
                    .max(floor);
            for (int j = 0; j < vectorEnd; j += LANES) {
                FloatVector m = FloatVector.fromArray(SPECIES, center, j);
                FloatVector s = FloatVector.fromArray(SPECIES, scale, j);
                FloatVector b = FloatVector.fromArray(SPECIES, shift, j);
                store(load(xa, xs, xRow + j).sub(m).fma(s, b).max(floor), ya, ys, yRow + j);
            }
            store(t, ya, ys, yRow + last);
        }
    }

    private static void normalizeNarrowRows(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys,
                                            long yFirst, long rows, int channels, float[] center, float[] scale,
                                            float[] shift, float floor, float[] scratch) {
        int period = period(channels);
        int pm = PERIODIC;
        int ps = PERIODIC + PERIOD_MAX;
        int pb = PERIODIC + 2 * PERIOD_MAX;
        repeat(center, channels, period, scratch, pm);
        repeat(scale, channels, period, scratch, ps);
        repeat(shift, channels, period, scratch, pb);
        long total = rows * channels;
        long i = 0;
        for (; i + period <= total; i += period) {
            for (int v = 0; v < period; v += LANES) {
                FloatVector m = FloatVector.fromArray(SPECIES, scratch, pm + v);
                FloatVector s = FloatVector.fromArray(SPECIES, scratch, ps + v);
                FloatVector b = FloatVector.fromArray(SPECIES, scratch, pb + v);
                store(load(xa, xs, xFirst + i + v).sub(m).fma(s, b).max(floor), ya, ys, yFirst + i + v);
            }
        }
        // scalar tail: the last rows, short of a period
        for (; i < total; i += channels) {
            ScalarBackend.normalizeRange(xa, xs, xFirst + i, ya, ys, yFirst + i, 0, channels, center, scale, shift,
                    floor);
        }
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
    public void runGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long stride, long length,
                                long runs, float center, double[] sumDy, double[] sumDyXc, int slot, float[] acc) {
        sumDy[slot] = 0;
        sumDyXc[slot] = 0;
        for (long r = 0; r < runs; r++) {
            long at = r * stride;
            runSums(dya, dys, dyFirst + at, xa, xs, xFirst + at, ya, ys, yFirst + at, length, center,
                    sumDy, sumDyXc, slot, acc);
        }
    }

    /**
     * Adds one contiguous run's sums to {@code slot}: four float accumulators per sum for at most
     * {@link Welford#BLOCK} steps, then into double, so no float chain grows with the run. Lanes are
     * added in a fixed order by scalar code: {@code reduceLanes} may add them in another order once
     * compiled than before, and the result must not depend on when the JIT ran.
     */
    private static void runSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                float[] ya, MemorySegment ys, long yAt, long len, float center,
                                double[] sumDy, double[] sumDyXc, int slot, float[] acc) {
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
            a0.add(a1).add(a2.add(a3)).intoArray(acc, 0);
            b0.add(b1).add(b2.add(b3)).intoArray(acc, LANES);
            s1 += sumLanes(acc, 0);
            s2 += sumLanes(acc, LANES);
        }
        // vector tail
        if (i + LANES <= len) {
            FloatVector a = FloatVector.zero(SPECIES);
            FloatVector b = a;
            for (; i + LANES <= len; i += LANES) {
                FloatVector g = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
                a = a.add(g);
                b = g.fma(load(xa, xs, xAt + i).sub(m), b);
            }
            a.intoArray(acc, 0);
            b.intoArray(acc, LANES);
            s1 += sumLanes(acc, 0);
            s2 += sumLanes(acc, LANES);
        }
        // scalar tail
        for (; i < len; i++) {
            float g = ScalarBackend.gradient(Memory.get(dya, dys, dyAt + i), ya, ys, yAt + i);
            s1 += g;
            s2 += g * (double) (Memory.get(xa, xs, xAt + i) - center);
        }
        sumDy[slot] += s1;
        sumDyXc[slot] += s2;
    }

    private static double sumLanes(float[] acc, int from) {
        double s = 0;
        for (int lane = 0; lane < LANES; lane++) {
            s += acc[from + lane];
        }
        return s;
    }

    /** Lanes are channels, rows in blocks, four rows at a time, as in {@link #rowStatistics}. */
    @Override
    public void rowGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long rows, int channels,
                                int c0, int c1, float[] center, double[] sumDy, double[] sumDyXc, int slot,
                                float[] acc) {
        for (int c = c0; c < c1; c++) {
            sumDy[slot + c] = 0;
            sumDyXc[slot + c] = 0;
        }
        long vectorRows = channels < LANES ? 0 : rows - rows % 4;
        int vectorEnd = c0 + (c1 - c0) / LANES * LANES;
        for (long row = 0; row < vectorRows; row += ROW_BLOCK) {
            long blockRows = Math.min(ROW_BLOCK, vectorRows - row);
            long at = row * channels;
            for (int j = c0; j < vectorEnd; j += LANES) {
                rowSums(dya, dys, dyFirst + at + j, xa, xs, xFirst + at + j, ya, ys, yFirst + at + j,
                        blockRows, channels, center, j, acc);
                addLanes(acc, j, 0, sumDy, sumDyXc, slot);
            }
            if (vectorEnd < c1) {
                // vector tail: the last L channels; lanes before vectorEnd were counted already
                int j = c1 - LANES;
                rowSums(dya, dys, dyFirst + at + j, xa, xs, xFirst + at + j, ya, ys, yFirst + at + j,
                        blockRows, channels, center, j, acc);
                addLanes(acc, j, vectorEnd - j, sumDy, sumDyXc, slot);
            }
        }
        // scalar tail
        for (long row = vectorRows; row < rows; row++) {
            for (int c = c0; c < c1; c++) {
                long i = row * channels + c;
                float g = ScalarBackend.gradient(Memory.get(dya, dys, dyFirst + i), ya, ys, yFirst + i);
                sumDy[slot + c] += g;
                sumDyXc[slot + c] += g * (double) (Memory.get(xa, xs, xFirst + i) - center[c]);
            }
        }
    }

    private static void addLanes(float[] acc, int j, int fromLane, double[] sumDy, double[] sumDyXc, int slot) {
        for (int lane = fromLane; lane < LANES; lane++) {
            sumDy[slot + j + lane] += acc[lane];
            sumDyXc[slot + j + lane] += acc[LANES + lane];
        }
    }

    /** Sums of one channel vector over {@code rows} rows (a multiple of 4) into {@code acc[0, 2L)}. */
    private static void rowSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                float[] ya, MemorySegment ys, long yAt, long rows, int channels, float[] center, int j,
                                float[] acc) {
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
    public void applyGradientRuns(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                  long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                  MemorySegment dxs, long dxFirst, long stride, long length, long runs, float center,
                                  float k1, float k2, float k3) {
        FloatVector m = FloatVector.broadcast(SPECIES, center);
        FloatVector v1 = FloatVector.broadcast(SPECIES, k1);
        FloatVector v2 = FloatVector.broadcast(SPECIES, k2);
        FloatVector v3 = FloatVector.broadcast(SPECIES, k3);
        for (long r = 0; r < runs; r++) {
            long at = r * stride;
            long i = 0;
            for (; i + LANES <= length; i += LANES) {
                long e = at + i;
                FloatVector g = gradient(load(dya, dys, dyFirst + e), ya, ys, yFirst + e);
                FloatVector rest = load(xa, xs, xFirst + e).sub(m).fma(v2, v3);
                store(g.fma(v1, rest), dxa, dxs, dxFirst + e);
            }
            // scalar tail
            for (; i < length; i++) {
                long e = at + i;
                ScalarBackend.applyOne(dya, dys, dyFirst + e, xa, xs, xFirst + e, ya, ys, yFirst + e,
                        dxa, dxs, dxFirst + e, center, k1, k2, k3);
            }
        }
    }

    @Override
    public void applyGradientRows(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                  long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                  MemorySegment dxs, long dxFirst, long rows, int channels, float[] center,
                                  float[] k1, float[] k2, float[] k3, float[] scratch) {
        if (channels < LANES) {
            applyNarrowRows(dya, dys, dyFirst, xa, xs, xFirst, ya, ys, yFirst, dxa, dxs, dxFirst, rows, channels,
                    center, k1, k2, k3, scratch);
            return;
        }
        int vectorEnd = channels - channels % LANES;
        int last = channels - LANES;
        for (long row = 0; row < rows; row++) {
            long r = row * channels;
            // vector tail first, stored last (see the class comment)
            FloatVector tg = gradient(load(dya, dys, dyFirst + r + last), ya, ys, yFirst + r + last);
            FloatVector trest = load(xa, xs, xFirst + r + last).sub(FloatVector.fromArray(SPECIES, center, last))
                    .fma(FloatVector.fromArray(SPECIES, k2, last), FloatVector.fromArray(SPECIES, k3, last));
            FloatVector t = tg.fma(FloatVector.fromArray(SPECIES, k1, last), trest);
            for (int j = 0; j < vectorEnd; j += LANES) {
                long i = r + j;
                FloatVector g = gradient(load(dya, dys, dyFirst + i), ya, ys, yFirst + i);
                FloatVector rest = load(xa, xs, xFirst + i).sub(FloatVector.fromArray(SPECIES, center, j))
                        .fma(FloatVector.fromArray(SPECIES, k2, j), FloatVector.fromArray(SPECIES, k3, j));
                store(g.fma(FloatVector.fromArray(SPECIES, k1, j), rest), dxa, dxs, dxFirst + i);
            }
            store(t, dxa, dxs, dxFirst + r + last);
        }
    }

    private static void applyNarrowRows(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                        long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                        MemorySegment dxs, long dxFirst, long rows, int channels, float[] center,
                                        float[] k1, float[] k2, float[] k3, float[] scratch) {
        int period = period(channels);
        int pm = PERIODIC;
        int p1 = PERIODIC + PERIOD_MAX;
        int p2 = PERIODIC + 2 * PERIOD_MAX;
        int p3 = PERIODIC + 3 * PERIOD_MAX;
        repeat(center, channels, period, scratch, pm);
        repeat(k1, channels, period, scratch, p1);
        repeat(k2, channels, period, scratch, p2);
        repeat(k3, channels, period, scratch, p3);
        long total = rows * channels;
        long i = 0;
        for (; i + period <= total; i += period) {
            for (int v = 0; v < period; v += LANES) {
                long e = i + v;
                FloatVector g = gradient(load(dya, dys, dyFirst + e), ya, ys, yFirst + e);
                FloatVector rest = load(xa, xs, xFirst + e).sub(FloatVector.fromArray(SPECIES, scratch, pm + v))
                        .fma(FloatVector.fromArray(SPECIES, scratch, p2 + v),
                                FloatVector.fromArray(SPECIES, scratch, p3 + v));
                store(g.fma(FloatVector.fromArray(SPECIES, scratch, p1 + v), rest), dxa, dxs, dxFirst + e);
            }
        }
        // scalar tail: the last rows, short of a period
        for (; i < total; i++) {
            int c = (int) (i % channels);
            ScalarBackend.applyOne(dya, dys, dyFirst + i, xa, xs, xFirst + i, ya, ys, yFirst + i, dxa, dxs,
                    dxFirst + i, center[c], k1[c], k2[c], k3[c]);
        }
    }
}
