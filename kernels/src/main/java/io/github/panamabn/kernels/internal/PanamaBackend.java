package io.github.panamabn.kernels.internal;

import static io.github.panamabn.kernels.internal.Welford.BLOCK;
import static io.github.panamabn.kernels.internal.Welford.RECIPROCAL;

import io.github.panamabn.kernels.Implementation;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
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
    /** Doubles as wide as {@link #SPECIES}, and floats half as wide: one converts into the other. */
    private static final VectorSpecies<Double> DOUBLES = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> HALF_FLOATS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));
    private static final int DLANES = DOUBLES.length();
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    // A channel's Welford state, STATE floats: four accumulators' means [0, 4L) and M2s [4L, 8L); one
    // more accumulator [8L, 10L); its pivot repeated [10L, 11L); a scalar accumulator's mean and M2. Scratch holds the states of a channel
    // group (16 KiB), and behind them four parameter arrays repeated over one period, for rows narrower
    // than a vector (the period lcm(C, L) is at most L (L - 1) floats).
    private static final int SINGLE = 8 * LANES;
    private static final int PIVOT = 10 * LANES;
    private static final int SCALAR = 11 * LANES;
    private static final int STATE = 11 * LANES + 2;
    private static final int GROUP_SCRATCH = Math.max(8 * (512 + LANES), STATE);
    private static final int PERIOD_MAX = LANES * (LANES - 1);
    private static final int PERIODIC = GROUP_SCRATCH / STATE * STATE;
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

    @Override
    public int channelGroup() {
        return Math.max(1, GROUP_SCRATCH / STATE);
    }

    /**
     * Each channel keeps its accumulators in its own {@link #STATE} floats of scratch while the samples go
     * by. All channels' runs have the same length, so their block counters move together. Within a run,
     * groups of four vectors go to the four accumulators, the remaining whole vectors to one more, the
     * last floats to the scalar helper.
     */
    @Override
    public void sampleStatistics(float[] xa, MemorySegment xs, long first, long samples, int channels, long spatial,
                                 long sampleStride, float[] pivots, int pivotFrom, double[] mean, double[] m2,
                                 int slot, int slotStride, float[] acc) {
        for (int j = 0; j < channels; j++) {
            int at = j * STATE;
            Arrays.fill(acc, at, at + PIVOT, 0f);
            Arrays.fill(acc, at + PIVOT, at + SCALAR, pivots[pivotFrom + j]);
            acc[at + SCALAR] = 0;
            acc[at + SCALAR + 1] = 0;
        }
        long groups = spatial / (4L * LANES);
        long singles = spatial % (4L * LANES) / LANES;
        long scalars = spatial % LANES;
        int kBank = 0;
        int kSingle = 0;
        int kScalar = 0;
        long count = 0;
        for (long n = 0; n < samples; n++) {
            long after = count;
            for (int j = 0; j < channels; j++) {
                after = runStatistics(xa, xs, first + n * sampleStride + j * spatial, spatial, groups, singles,
                        kBank, kSingle, kScalar, count, pivots[pivotFrom + j], acc, j * STATE, mean, m2,
                        slot + j * slotStride);
            }
            kBank = (int) ((kBank + groups) % BLOCK);
            kSingle = (int) ((kSingle + singles) % BLOCK);
            kScalar = (int) ((kScalar + scalars) % BLOCK);
            count = after;
        }
        for (int j = 0; j < channels; j++) {
            int at = j * STATE;
            float pivot = pivots[pivotFrom + j];
            int out = slot + j * slotStride;
            long n = count;
            if (kBank > 0) {
                n = Welford.mergeLanes(acc, at, 4 * LANES, kBank, pivot, mean, m2, out, n);
            }
            if (kSingle > 0) {
                n = Welford.mergeLanes(acc, at + SINGLE, LANES, kSingle, pivot, mean, m2, out, n);
            }
            if (kScalar > 0) {
                Welford.merge(mean, m2, out, n, kScalar, (double) pivot + acc[at + SCALAR], acc[at + SCALAR + 1]);
            }
        }
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

    /**
     * One run of one channel into its accumulators at {@code acc[at ..]}, which hold {@code kBank} and
     * {@code kSingle} updates; full blocks are merged into {@code slot}, which holds {@code count} elements.
     *
     * @return the slot's element count afterwards
     */
    private static long runStatistics(float[] xa, MemorySegment xs, long base, long length, long groups, long singles,
                                      int kBank, int kSingle, int kScalar, long count, float pivot, float[] acc, int at,
                                      double[] mean, double[] m2, int slot) {
        for (long g = 0; g < groups; ) {
            int steps = (int) Math.min(BLOCK - kBank, groups - g);
            welfordSteps(xa, xs, base + g * 4L * LANES, LANES, steps, kBank, acc, at + PIVOT, acc, at);
            kBank += steps;
            g += steps;
            if (kBank == BLOCK) {
                count = Welford.mergeLanes(acc, at, 4 * LANES, kBank, pivot, mean, m2, slot, count);
                kBank = 0;
            }
        }
        // vector tail
        long tail = groups * 4L * LANES;
        for (long v = 0; v < singles; v++, tail += LANES) {
            singleStep(xa, xs, base + tail, ++kSingle, acc, at);
            if (kSingle == BLOCK) {
                count = Welford.mergeLanes(acc, at + SINGLE, LANES, kSingle, pivot, mean, m2, slot, count);
                kSingle = 0;
            }
        }
        // scalar tail: one more accumulator, carried from run to run like the others (merging a short
        // run's last floats into double on their own would cost more than the run)
        float sm = acc[at + SCALAR];
        float sq = acc[at + SCALAR + 1];
        for (long i = tail; i < length; i++) {
            float v = Memory.get(xa, xs, base + i) - pivot;
            float d = v - sm;
            sm = Math.fma(d, RECIPROCAL[++kScalar], sm);
            sq = Math.fma(d, v - sm, sq);
            if (kScalar == BLOCK) {
                Welford.merge(mean, m2, slot, count, BLOCK, (double) pivot + sm, sq);
                count += BLOCK;
                sm = 0;
                sq = 0;
                kScalar = 0;
            }
        }
        acc[at + SCALAR] = sm;
        acc[at + SCALAR + 1] = sq;
        return count;
    }

    /**
     * Welford updates {@code k+1} to {@code k+steps} of the four accumulators at {@code acc[a, a+8L)},
     * relative to the pivots at {@code pivots[pivotAt, pivotAt+L)}: update t reads accumulator a's vector
     * at {@code at + 4 * stride * (t - 1) + a * stride}. Contiguous groups (stride L) in channels-first
     * memory, four rows of one channel block (stride C) in channels-last memory.
     */
    private static void welfordSteps(float[] xa, MemorySegment xs, long at, long stride, int steps, int k,
                                     float[] pivots, int pivotAt, float[] acc, int a) {
        FloatVector p = FloatVector.fromArray(SPECIES, pivots, pivotAt);
        FloatVector m0 = FloatVector.fromArray(SPECIES, acc, a);
        FloatVector m1 = FloatVector.fromArray(SPECIES, acc, a + LANES);
        FloatVector m2 = FloatVector.fromArray(SPECIES, acc, a + 2 * LANES);
        FloatVector m3 = FloatVector.fromArray(SPECIES, acc, a + 3 * LANES);
        FloatVector q0 = FloatVector.fromArray(SPECIES, acc, a + 4 * LANES);
        FloatVector q1 = FloatVector.fromArray(SPECIES, acc, a + 5 * LANES);
        FloatVector q2 = FloatVector.fromArray(SPECIES, acc, a + 6 * LANES);
        FloatVector q3 = FloatVector.fromArray(SPECIES, acc, a + 7 * LANES);
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
        m0.intoArray(acc, a);
        m1.intoArray(acc, a + LANES);
        m2.intoArray(acc, a + 2 * LANES);
        m3.intoArray(acc, a + 3 * LANES);
        q0.intoArray(acc, a + 4 * LANES);
        q1.intoArray(acc, a + 5 * LANES);
        q2.intoArray(acc, a + 6 * LANES);
        q3.intoArray(acc, a + 7 * LANES);
    }

    /** The {@code k}-th Welford update of the single accumulator at {@code acc[a + SINGLE ..]}. */
    private static void singleStep(float[] xa, MemorySegment xs, long at, int k, float[] acc, int a) {
        FloatVector m = FloatVector.fromArray(SPECIES, acc, a + SINGLE);
        FloatVector q = FloatVector.fromArray(SPECIES, acc, a + SINGLE + LANES);
        FloatVector v = load(xa, xs, at).sub(FloatVector.fromArray(SPECIES, acc, a + PIVOT));
        FloatVector d = v.sub(m);
        m = d.fma(FloatVector.broadcast(SPECIES, RECIPROCAL[k]), m);
        q = d.fma(v.sub(m), q);
        m.intoArray(acc, a + SINGLE);
        q.intoArray(acc, a + SINGLE + LANES);
    }

    /**
     * Lanes are channels. Rows are read in memory order, four at a time: each channel vector (and the
     * overlapping last one, when C is not a multiple of L) has one accumulator in scratch, which takes
     * the four rows' updates in turn, so scratch traffic is a quarter of the data's. Every
     * {@link Welford#BLOCK} rows the accumulators are merged into double, all lanes at once. Rows
     * narrower than a vector go to the scalar helper.
     */
    @Override
    public void rowStatistics(float[] xa, MemorySegment xs, long first, long rows, int channels, int c0, int c1,
                              float[] pivots, double[] mean, double[] m2, int slot, float[] acc) {
        if (channels < LANES) {
            for (int c = c0; c < c1; c++) {
                Welford.accumulate(xa, xs, first + c, rows, channels, pivots[c], mean, m2, slot + c, 0);
            }
            return;
        }
        int main = (c1 - c0) / LANES;
        int columns = c0 + main * LANES < c1 ? main + 1 : main;
        int width = columns * LANES;
        long count = 0;
        for (long row = 0; row < rows; row += BLOCK) {
            int k = (int) Math.min(BLOCK, rows - row);
            Arrays.fill(acc, 0, 2 * width, 0f);
            welfordRows(xa, xs, first + row * channels, channels, c0, c1, main, columns, k, pivots, acc, width);
            mergeRows(acc, width, k, pivots, c0, c1, main, mean, m2, slot, count);
            count += k;
        }
    }

    /**
     * Welford updates 1 to k of every column (channel vector) of a block of k rows: means in
     * {@code acc[0, width)}, M2s in {@code acc[width, 2 width)}, column v at {@code v * L}. Column v reads
     * channels from {@code c0 + v L}, the last column (when C is not a multiple of L) from {@code c1 - L}.
     */
    private static void welfordRows(float[] xa, MemorySegment xs, long at, int channels, int c0, int c1, int main,
                                     int columns, int k, float[] pivots, float[] acc, int width) {
        long c2 = 2L * channels;
        long c3 = 3L * channels;
        int t = 1;
        for (; t + 3 <= k; t += 4) {
            FloatVector r0 = FloatVector.broadcast(SPECIES, RECIPROCAL[t]);
            FloatVector r1 = FloatVector.broadcast(SPECIES, RECIPROCAL[t + 1]);
            FloatVector r2 = FloatVector.broadcast(SPECIES, RECIPROCAL[t + 2]);
            FloatVector r3 = FloatVector.broadcast(SPECIES, RECIPROCAL[t + 3]);
            long row = at + (t - 1) * (long) channels;
            for (int v = 0; v < columns; v++) {
                int j = v < main ? c0 + v * LANES : c1 - LANES;
                int a = v * LANES;
                FloatVector p = FloatVector.fromArray(SPECIES, pivots, j);
                FloatVector m = FloatVector.fromArray(SPECIES, acc, a);
                FloatVector q = FloatVector.fromArray(SPECIES, acc, width + a);
                FloatVector x = load(xa, xs, row + j).sub(p);
                FloatVector d = x.sub(m);
                m = d.fma(r0, m);
                q = d.fma(x.sub(m), q);
                x = load(xa, xs, row + channels + j).sub(p);
                d = x.sub(m);
                m = d.fma(r1, m);
                q = d.fma(x.sub(m), q);
                x = load(xa, xs, row + c2 + j).sub(p);
                d = x.sub(m);
                m = d.fma(r2, m);
                q = d.fma(x.sub(m), q);
                x = load(xa, xs, row + c3 + j).sub(p);
                d = x.sub(m);
                m = d.fma(r3, m);
                q = d.fma(x.sub(m), q);
                m.intoArray(acc, a);
                q.intoArray(acc, width + a);
            }
        }
        // the block's last rows % 4 rows, one at a time
        for (; t <= k; t++) {
            FloatVector r = FloatVector.broadcast(SPECIES, RECIPROCAL[t]);
            long row = at + (t - 1) * (long) channels;
            for (int v = 0; v < columns; v++) {
                int j = v < main ? c0 + v * LANES : c1 - LANES;
                int a = v * LANES;
                FloatVector m = FloatVector.fromArray(SPECIES, acc, a);
                FloatVector x = load(xa, xs, row + j).sub(FloatVector.fromArray(SPECIES, pivots, j));
                FloatVector d = x.sub(m);
                m = d.fma(r, m);
                d.fma(x.sub(m), FloatVector.fromArray(SPECIES, acc, width + a)).intoArray(acc, width + a);
                m.intoArray(acc, a);
            }
        }
    }

    /**
     * Merges a block's accumulators (k updates each) into channels {@code [c0, c1)}, which hold
     * {@code count} elements: Chan's formula in double, all lanes at once; the block's weights are the
     * same for every channel. The overlapping last column gives only its new channels.
     */
    private static void mergeRows(float[] acc, int width, int k, float[] pivots, int c0, int c1, int main,
                                  double[] mean, double[] m2, int slot, long count) {
        double n = (double) count + k;
        double w1 = k / n;
        double w2 = count * (double) k / n;
        int c = c0;
        for (int end = c0 + main * LANES; c + DLANES <= end; c += DLANES) {
            int a = c - c0;
            DoubleVector blockMean = widen(pivots, c).add(widen(acc, a));
            DoubleVector blockM2 = widen(acc, width + a);
            if (count == 0) {
                blockMean.intoArray(mean, slot + c);
                blockM2.intoArray(m2, slot + c);
            } else {
                DoubleVector old = DoubleVector.fromArray(DOUBLES, mean, slot + c);
                DoubleVector d = blockMean.sub(old);
                old.add(d.mul(w1)).intoArray(mean, slot + c);
                DoubleVector.fromArray(DOUBLES, m2, slot + c).add(blockM2.add(d.mul(d).mul(w2)))
                        .intoArray(m2, slot + c);
            }
        }
        // scalar tail: the channels of the last column
        int tail = c1 - LANES;
        for (; c < c1; c++) {
            int a = c < c0 + main * LANES ? c - c0 : main * LANES + (c - tail);
            Welford.merge(mean, m2, slot + c, count, k, (double) pivots[c] + acc[a], acc[width + a]);
        }
    }

    /** {@code DLANES} floats from {@code a[i]}, widened to doubles. */
    private static DoubleVector widen(float[] a, int i) {
        return (DoubleVector) FloatVector.fromArray(HALF_FLOATS, a, i).convertShape(VectorOperators.F2D, DOUBLES, 0);
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
        if (channels % LANES == 0) {
            normalizeWholeRows(xa, xs, xFirst, ya, ys, yFirst, rows, channels, center, scale, shift, floor);
        } else {
            for (long row = 0; row < rows; row++) {
                normalizeRow(xa, xs, xFirst + row * channels, ya, ys, yFirst + row * channels, channels, center,
                        scale, shift, floor);
            }
        }
    }

    // Each path's vector loops are a method of their own, which calls no other vector method: in one
    // large method C2 reaches its node budget when both the array and the segment paths of load and
    // store are live, stops inlining them, and boxes every vector that crosses such a call.

    /**
     * Rows of whole channel vectors, row by row in memory order. Four rows per pass over the channel
     * vectors, loading the parameters once for the four, measured slower here on arrays (1.3-1.5x on
     * rows of 64, 1024 and 2048 channels; 2x for dx on rows of 1024) and no faster on segments.
     */
    private static void normalizeWholeRows(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys,
                                           long yFirst, long rows, int channels, float[] center, float[] scale,
                                           float[] shift, float floor) {
        for (long row = 0; row < rows; row++) {
            long xAt = xFirst + row * channels;
            long yAt = yFirst + row * channels;
            for (int j = 0; j < channels; j += LANES) {
                FloatVector m = FloatVector.fromArray(SPECIES, center, j);
                FloatVector s = FloatVector.fromArray(SPECIES, scale, j);
                FloatVector b = FloatVector.fromArray(SPECIES, shift, j);
                store(load(xa, xs, xAt + j).sub(m).fma(s, b).max(floor), ya, ys, yAt + j);
            }
        }
    }

    /** One row of at least one vector whose last vector overlaps: computed first, stored last. */
    private static void normalizeRow(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                     int channels, float[] center, float[] scale, float[] shift, float floor) {
        int last = channels - LANES;
        FloatVector t = load(xa, xs, xAt + last).sub(FloatVector.fromArray(SPECIES, center, last))
                .fma(FloatVector.fromArray(SPECIES, scale, last), FloatVector.fromArray(SPECIES, shift, last))
                .max(floor);
        for (int j = 0; j + LANES <= channels; j += LANES) {
            FloatVector m = FloatVector.fromArray(SPECIES, center, j);
            FloatVector s = FloatVector.fromArray(SPECIES, scale, j);
            FloatVector b = FloatVector.fromArray(SPECIES, shift, j);
            store(load(xa, xs, xAt + j).sub(m).fma(s, b).max(floor), ya, ys, yAt + j);
        }
        store(t, ya, ys, yAt + last);
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
        for (long r = 0; r < runs; r++) {
            long at = r * stride;
            long tail = runSums(dya, dys, dyFirst + at, xa, xs, xFirst + at, ya, ys, yFirst + at, length, center,
                    sumDy, sumDyXc, slot, acc);
            runSumsTail(dya, dys, dyFirst + at, xa, xs, xFirst + at, ya, ys, yFirst + at, tail, length, center,
                    sumDy, sumDyXc, slot, acc);
        }
    }

    /**
     * Adds one contiguous run's sums to {@code slot}: four float accumulators per sum for at most
     * {@link Welford#BLOCK} steps, then into double, so no float chain grows with the run. Lanes are
     * added in a fixed order by scalar code: {@code reduceLanes} may add them in another order once
     * compiled than before, and the result must not depend on when the JIT ran.
     *
     * @return where the run's groups of four vectors end: {@link #runSumsTail} adds the rest
     */
    private static long runSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                float[] ya, MemorySegment ys, long yAt, long len, float center,
                                double[] sumDy, double[] sumDyXc, int slot, float[] acc) {
        double s1 = 0;
        double s2 = 0;
        long i = 0;
        long groupEnd = len - len % (4L * LANES);
        while (i < groupEnd) {
            long blockEnd = Math.min(groupEnd, i + (long) BLOCK * 4 * LANES);
            // no vector lives across a block's scalar merge: if that call were not inlined it would be boxed
            FloatVector m = FloatVector.broadcast(SPECIES, center);
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
        sumDy[slot] += s1;
        sumDyXc[slot] += s2;
        return i;
    }

    /** Adds the sums of a run's last floats, from {@code i}: fewer than four vectors. */
    private static void runSumsTail(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                    float[] ya, MemorySegment ys, long yAt, long i, long len, float center,
                                    double[] sumDy, double[] sumDyXc, int slot, float[] acc) {
        double s1 = 0;
        double s2 = 0;
        // vector tail: each vector added in double on its own (a vector carried from one iteration to
        // the next of a short guarded loop is where C2 has been seen to box)
        for (; i + LANES <= len; i += LANES) {
            FloatVector g = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
            g.intoArray(acc, 0);
            g.mul(load(xa, xs, xAt + i).sub(center)).intoArray(acc, LANES);
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

    /**
     * Lanes are channels; rows in memory order, four at a time into one accumulator per sum and column,
     * in scratch, added into double every {@link Welford#BLOCK} rows, as in {@link #rowStatistics}.
     */
    @Override
    public void rowGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long rows, int channels,
                                int c0, int c1, float[] center, double[] sumDy, double[] sumDyXc, int slot,
                                float[] acc) {
        for (int c = c0; c < c1; c++) {
            sumDy[slot + c] = 0;
            sumDyXc[slot + c] = 0;
        }
        if (channels < LANES) {
            ScalarBackend.addRowGradientSums(dya, dys, dyFirst, xa, xs, xFirst, ya, ys, yFirst, rows, channels,
                    c0, c1, center, sumDy, sumDyXc, slot);
            return;
        }
        int main = (c1 - c0) / LANES;
        int columns = c0 + main * LANES < c1 ? main + 1 : main;
        int width = columns * LANES;
        for (long row = 0; row < rows; row += BLOCK) {
            int k = (int) Math.min(BLOCK, rows - row);
            long at = row * channels;
            Arrays.fill(acc, 0, 2 * width, 0f);
            sumRows(dya, dys, dyFirst + at, xa, xs, xFirst + at, ya, ys, yFirst + at, channels, c0, c1, main, columns,
                    k, center, acc, width);
            addRows(acc, width, c0, c1, main, sumDy, sumDyXc, slot);
        }
    }

    /** The sums of a block of k rows, per column, as {@link #welfordRows}: g in [0, width), g (x - c) after. */
    private static void sumRows(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                float[] ya, MemorySegment ys, long yAt, int channels, int c0, int c1, int main,
                                int columns, int k, float[] center, float[] acc, int width) {
        int t = 0;
        for (; t + 4 <= k; t += 4) {
            long row = t * (long) channels;
            sumFourRows(dya, dys, dyAt + row, xa, xs, xAt + row, ya, ys, yAt + row, channels, c0, c1, main, columns,
                    center, acc, width);
        }
        // the block's last rows % 4 rows, one at a time
        for (; t < k; t++) {
            long row = t * (long) channels;
            sumRow(dya, dys, dyAt + row, xa, xs, xAt + row, ya, ys, yAt + row, c0, c1, main, columns, center, acc,
                    width);
        }
    }

    /** Four rows' sums added to every column's accumulators. */
    private static void sumFourRows(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                    float[] ya, MemorySegment ys, long yAt, int channels, int c0, int c1, int main,
                                    int columns, float[] center, float[] acc, int width) {
        long s2 = 2L * channels;
        long s3 = 3L * channels;
        for (int v = 0; v < columns; v++) {
            int i = v < main ? c0 + v * LANES : c1 - LANES;
            int a = v * LANES;
            FloatVector m = FloatVector.fromArray(SPECIES, center, i);
            FloatVector g0 = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
            FloatVector g1 = gradient(load(dya, dys, dyAt + i + channels), ya, ys, yAt + i + channels);
            FloatVector g2 = gradient(load(dya, dys, dyAt + i + s2), ya, ys, yAt + i + s2);
            FloatVector g3 = gradient(load(dya, dys, dyAt + i + s3), ya, ys, yAt + i + s3);
            FloatVector.fromArray(SPECIES, acc, a).add(g0).add(g1).add(g2).add(g3).intoArray(acc, a);
            FloatVector b = FloatVector.fromArray(SPECIES, acc, width + a);
            b = g0.fma(load(xa, xs, xAt + i).sub(m), b);
            b = g1.fma(load(xa, xs, xAt + i + channels).sub(m), b);
            b = g2.fma(load(xa, xs, xAt + i + s2).sub(m), b);
            b = g3.fma(load(xa, xs, xAt + i + s3).sub(m), b);
            b.intoArray(acc, width + a);
        }
    }

    /** One row's sums added to every column's accumulators. */
    private static void sumRow(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                               float[] ya, MemorySegment ys, long yAt, int c0, int c1, int main, int columns,
                               float[] center, float[] acc, int width) {
        for (int v = 0; v < columns; v++) {
            int i = v < main ? c0 + v * LANES : c1 - LANES;
            int a = v * LANES;
            FloatVector m = FloatVector.fromArray(SPECIES, center, i);
            FloatVector g = gradient(load(dya, dys, dyAt + i), ya, ys, yAt + i);
            FloatVector.fromArray(SPECIES, acc, a).add(g).intoArray(acc, a);
            g.fma(load(xa, xs, xAt + i).sub(m), FloatVector.fromArray(SPECIES, acc, width + a))
                    .intoArray(acc, width + a);
        }
    }

    /** Adds a block's sums into double, all lanes at once; the overlapping last column gives its new channels. */
    private static void addRows(float[] acc, int width, int c0, int c1, int main, double[] sumDy, double[] sumDyXc,
                                int slot) {
        int c = c0;
        for (int end = c0 + main * LANES; c + DLANES <= end; c += DLANES) {
            int a = c - c0;
            DoubleVector.fromArray(DOUBLES, sumDy, slot + c).add(widen(acc, a)).intoArray(sumDy, slot + c);
            DoubleVector.fromArray(DOUBLES, sumDyXc, slot + c).add(widen(acc, width + a)).intoArray(sumDyXc, slot + c);
        }
        // scalar tail: the channels of the last column
        int tail = c1 - LANES;
        for (; c < c1; c++) {
            int a = c < c0 + main * LANES ? c - c0 : main * LANES + (c - tail);
            sumDy[slot + c] += acc[a];
            sumDyXc[slot + c] += acc[width + a];
        }
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
        if (channels % LANES == 0) {
            applyWholeRows(dya, dys, dyFirst, xa, xs, xFirst, ya, ys, yFirst, dxa, dxs, dxFirst, rows, channels,
                    center, k1, k2, k3);
        } else {
            for (long row = 0; row < rows; row++) {
                long i = row * channels;
                applyRow(dya, dys, dyFirst + i, xa, xs, xFirst + i, ya, ys, yFirst + i, dxa, dxs, dxFirst + i,
                        channels, center, k1, k2, k3);
            }
        }
    }

    /** dx of rows of whole channel vectors, row by row (see {@link #normalizeWholeRows}). */
    private static void applyWholeRows(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                       long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                       MemorySegment dxs, long dxFirst, long rows, int channels, float[] center,
                                       float[] k1, float[] k2, float[] k3) {
        for (long row = 0; row < rows; row++) {
            long first = row * channels;
            for (int j = 0; j < channels; j += LANES) {
                long e = first + j;
                FloatVector g = gradient(load(dya, dys, dyFirst + e), ya, ys, yFirst + e);
                FloatVector rest = load(xa, xs, xFirst + e).sub(FloatVector.fromArray(SPECIES, center, j))
                        .fma(FloatVector.fromArray(SPECIES, k2, j), FloatVector.fromArray(SPECIES, k3, j));
                store(g.fma(FloatVector.fromArray(SPECIES, k1, j), rest), dxa, dxs, dxFirst + e);
            }
        }
    }

    /** dx of one row of at least one vector whose last vector overlaps: computed first, stored last. */
    private static void applyRow(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                                 float[] ya, MemorySegment ys, long yAt, float[] dxa, MemorySegment dxs, long dxAt,
                                 int channels, float[] center, float[] k1, float[] k2, float[] k3) {
        int last = channels - LANES;
        FloatVector tg = gradient(load(dya, dys, dyAt + last), ya, ys, yAt + last);
        FloatVector trest = load(xa, xs, xAt + last).sub(FloatVector.fromArray(SPECIES, center, last))
                .fma(FloatVector.fromArray(SPECIES, k2, last), FloatVector.fromArray(SPECIES, k3, last));
        FloatVector t = tg.fma(FloatVector.fromArray(SPECIES, k1, last), trest);
        for (int j = 0; j + LANES <= channels; j += LANES) {
            FloatVector g = gradient(load(dya, dys, dyAt + j), ya, ys, yAt + j);
            FloatVector rest = load(xa, xs, xAt + j).sub(FloatVector.fromArray(SPECIES, center, j))
                    .fma(FloatVector.fromArray(SPECIES, k2, j), FloatVector.fromArray(SPECIES, k3, j));
            store(g.fma(FloatVector.fromArray(SPECIES, k1, j), rest), dxa, dxs, dxAt + j);
        }
        store(t, dxa, dxs, dxAt + last);
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
