package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * SIMD loops on the Vector API. Loaded only after {@link KernelProvider} has checked that the module
 * is readable, so no species is initialized where it cannot be used.
 *
 * <p>Each method picks, once per piece of work, the loops for the piece's storage ({@link ArrayLoops}
 * or {@link SegmentLoops}, generated from one template) and, for gradients, for a fused ReLU or none:
 * every vector loop then touches one kind of memory and calls no method of ours, so what the JIT has
 * seen elsewhere in the process cannot make it box vectors (see {@code ArrayLoops}). A call's tensors
 * are all arrays or all segments ({@link KernelCall} sees to it).
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
    /**
     * Test-only: runs the loops at a narrower width than the platform prefers (128 or 256 bits; wider
     * than preferred is clamped), as Lucene's {@code tests.vectorsize} does, so that one machine proves
     * every width's loops, tails and scratch layouts.
     */
    public static final String WIDTH_PROPERTY = "panamabn.vectorBits";
    /**
     * Test-only: the span of samples, in bytes, up to which channels-first statistics are taken channel
     * by channel (see {@link #RESIDENT}); 0 keeps every call in memory order, so that the suites prove
     * both orders.
     */
    public static final String RESIDENT_PROPERTY = "panamabn.residentBytes";
    /**
     * A call's samples spanning at most this many bytes (half the smallest L2 we run on) are in cache:
     * their statistics are taken channel by channel, the accumulators in registers from run to run.
     */
    public static final long RESIDENT = Long.getLong(RESIDENT_PROPERTY, 256 << 10);
    static final VectorSpecies<Float> SPECIES = species();
    static final int LANES = SPECIES.length();
    /** Doubles as wide as {@link #SPECIES}, and floats half as wide: one converts into the other. */
    private static final VectorSpecies<Double> DOUBLES =
            VectorSpecies.of(double.class, VectorShape.forBitSize(SPECIES.vectorBitSize()));
    private static final VectorSpecies<Float> HALF_FLOATS =
            VectorSpecies.of(float.class, VectorShape.forBitSize(SPECIES.vectorBitSize() / 2));
    private static final int DLANES = DOUBLES.length();
    // A channel's Welford state, STATE floats: a bank of four accumulators, means [0, 4L) and M2s
    // [4L, 8L); one more for a run's last whole vectors [8L, 10L), one for its last floats [10L, 12L);
    // the pivot repeated [12L, 13L).
    // Scratch holds the states of a channel group (16 KiB), and behind them four parameter arrays
    // repeated over one period, for rows narrower than a vector (the period lcm(C, L) is at most
    // L (L - 1) floats).
    static final int SINGLE = 8 * LANES;
    static final int TAIL = 10 * LANES;
    static final int PIVOT = 12 * LANES;
    static final int STATE = 13 * LANES;
    private static final int GROUP_SCRATCH = Math.max(8 * (512 + LANES), STATE);
    static final int PERIOD_MAX = LANES * (LANES - 1);
    static final int PERIODIC = GROUP_SCRATCH / STATE * STATE;
    private static final int SCRATCH = PERIODIC + 4 * PERIOD_MAX;

    private static VectorSpecies<Float> species() {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        String asked = System.getProperty(WIDTH_PROPERTY);
        if (asked == null || asked.isBlank()) {
            return preferred;
        }
        int bits;
        try {
            bits = Integer.parseInt(asked.trim());
        } catch (NumberFormatException e) {
            bits = -1;
        }
        if (bits != 128 && bits != 256 && bits != 512) {
            // a test-only property: a bad value is reported, not fatal to class initialization
            System.getLogger(PanamaBackend.class.getName()).log(System.Logger.Level.WARNING,
                    "panama-bn: ignoring {0}={1} (128, 256 or 512)", WIDTH_PROPERTY, asked);
            return preferred;
        }
        return VectorSpecies.of(float.class, VectorShape.forBitSize(Math.min(bits, preferred.vectorBitSize())));
    }

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

    @Override
    public int channelGroup() {
        return Math.max(1, GROUP_SCRATCH / STATE);
    }

    /** lcm(C, L): the period of a channels-last tensor's channel pattern in whole vectors. */
    static int period(int channels) {
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
    static void repeat(float[] values, int channels, int period, float[] scratch, int at) {
        for (int i = 0; i < period; i++) {
            scratch[at + i] = values[i % channels];
        }
    }

    /** The lanes of one vector at {@code acc[from ..]} added in a fixed order: {@link #sum}. */
    static double sumLanes(float[] acc, int from) {
        return sum(acc, from, LANES);
    }

    /**
     * The {@code count} floats at {@code acc[from ..]} (a multiple of four, as every width's lane count
     * is) added in double in a fixed order, float i into chain i mod 4: one chain of sixteen additions
     * would hold up short runs.
     */
    static double sum(float[] acc, int from, int count) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        for (int i = from; i < from + count; i += 4) {
            s0 += acc[i];
            s1 += acc[i + 1];
            s2 += acc[i + 2];
            s3 += acc[i + 3];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * The four accumulators at {@code acc[from, from + 4L)} added lane by lane, then their lanes into
     * double by {@link #sum}; all four zeroed.
     */
    static double foldAndSum(float[] acc, int from) {
        FloatVector a = FloatVector.fromArray(SPECIES, acc, from).add(FloatVector.fromArray(SPECIES, acc, from + LANES))
                .add(FloatVector.fromArray(SPECIES, acc, from + 2 * LANES)
                        .add(FloatVector.fromArray(SPECIES, acc, from + 3 * LANES)));
        a.intoArray(acc, from);
        double s = sum(acc, from, LANES);
        java.util.Arrays.fill(acc, from, from + 4 * LANES, 0f);
        return s;
    }

    // ---------------------------------------------------------------- dispatch

    /**
     * Each channel keeps its accumulators in its own {@link #STATE} floats of scratch while the samples go
     * by. All channels' runs have the same length, so their block counters move together. Within a run,
     * groups of four vectors go to the bank's four accumulators, the remaining whole vectors to one more,
     * the last floats to a tail accumulator in one masked update, lane i taking float i of every run: no
     * scalar chain.
     */
    @Override
    public void sampleStatistics(float[] xa, MemorySegment xs, long first, long samples, int channels, long spatial,
                                 long sampleStride, float[] pivots, int pivotFrom, double[] mean, double[] m2,
                                 int slot, int slotStride, float[] acc) {
        if (xa != null) {
            ArrayLoops.sampleStatistics(xa, first, samples, channels, spatial, sampleStride, pivots, pivotFrom, mean,
                    m2, slot, slotStride, acc);
        } else {
            SegmentLoops.sampleStatistics(xs, first, samples, channels, spatial, sampleStride, pivots, pivotFrom,
                    mean, m2, slot, slotStride, acc);
        }
    }

    @Override
    public boolean runsEqual(float[] xa, MemorySegment xs, long first, long stride, long length, long runs,
                             float value) {
        return xa != null ? ArrayLoops.runsEqual(xa, first, stride, length, runs, value)
                : SegmentLoops.runsEqual(xs, first, stride, length, runs, value);
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
                              float[] pivots, double[] mean, double[] m2, int slot, float[] acc, boolean streaming) {
        if (xa != null) {
            ArrayLoops.rowStatistics(xa, first, rows, channels, c0, c1, pivots, mean, m2, slot, acc, streaming);
        } else {
            SegmentLoops.rowStatistics(xs, first, rows, channels, c0, c1, pivots, mean, m2, slot, acc, streaming);
        }
    }

    @Override
    public void normalizeRuns(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                              long stride, long length, long runs, float center, float scale, float shift,
                              float floor) {
        if (xa != null) {
            ArrayLoops.normalizeRuns(xa, xFirst, ya, yFirst, stride, length, runs, center, scale, shift, floor);
        } else {
            SegmentLoops.normalizeRuns(xs, xFirst, ys, yFirst, stride, length, runs, center, scale, shift, floor);
        }
    }

    @Override
    public void normalizeRows(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                              long rows, int channels, float[] center, float[] scale, float[] shift, float floor,
                              float[] scratch) {
        if (xa != null) {
            ArrayLoops.normalizeRows(xa, xFirst, ya, yFirst, rows, channels, center, scale, shift, floor, scratch);
        } else {
            SegmentLoops.normalizeRows(xs, xFirst, ys, yFirst, rows, channels, center, scale, shift, floor, scratch);
        }
    }

    @Override
    public void runGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long stride, long length,
                                long runs, float center, double[] sumDy, double[] sumDyXc, int slot, float[] acc) {
        boolean relu = ya != null || ys != null;
        if (dya != null) {
            if (relu) {
                ArrayLoops.runGradientSumsRelu(dya, dyFirst, xa, xFirst, ya, yFirst, stride, length, runs, center,
                        sumDy, sumDyXc, slot, acc);
            } else {
                ArrayLoops.runGradientSums(dya, dyFirst, xa, xFirst, null, yFirst, stride, length, runs, center,
                        sumDy, sumDyXc, slot, acc);
            }
        } else if (relu) {
            SegmentLoops.runGradientSumsRelu(dys, dyFirst, xs, xFirst, ys, yFirst, stride, length, runs, center,
                    sumDy, sumDyXc, slot, acc);
        } else {
            SegmentLoops.runGradientSums(dys, dyFirst, xs, xFirst, null, yFirst, stride, length, runs, center,
                    sumDy, sumDyXc, slot, acc);
        }
    }

    /**
     * Lanes are channels; rows in memory order, four at a time into one accumulator per sum and column,
     * in scratch, added into double every {@link Welford#BLOCK} rows, as in {@link #rowStatistics}.
     */
    @Override
    public void rowGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                long xFirst, float[] ya, MemorySegment ys, long yFirst, long rows, int channels,
                                int c0, int c1, float[] center, double[] sumDy, double[] sumDyXc, int slot,
                                float[] acc, boolean streaming) {
        boolean relu = ya != null || ys != null;
        if (dya != null) {
            if (relu) {
                ArrayLoops.rowGradientSumsRelu(dya, dyFirst, xa, xFirst, ya, yFirst, rows, channels, c0, c1, center,
                        sumDy, sumDyXc, slot, acc, streaming);
            } else {
                ArrayLoops.rowGradientSums(dya, dyFirst, xa, xFirst, null, yFirst, rows, channels, c0, c1, center,
                        sumDy, sumDyXc, slot, acc, streaming);
            }
        } else if (relu) {
            SegmentLoops.rowGradientSumsRelu(dys, dyFirst, xs, xFirst, ys, yFirst, rows, channels, c0, c1, center,
                    sumDy, sumDyXc, slot, acc, streaming);
        } else {
            SegmentLoops.rowGradientSums(dys, dyFirst, xs, xFirst, null, yFirst, rows, channels, c0, c1, center,
                    sumDy, sumDyXc, slot, acc, streaming);
        }
    }

    @Override
    public void applyGradientRuns(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                  long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                  MemorySegment dxs, long dxFirst, long stride, long length, long runs, float center,
                                  float k1, float k2, float k3) {
        boolean relu = ya != null || ys != null;
        if (dya != null) {
            if (relu) {
                ArrayLoops.applyGradientRunsRelu(dya, dyFirst, xa, xFirst, ya, yFirst, dxa, dxFirst, stride, length,
                        runs, center, k1, k2, k3);
            } else {
                ArrayLoops.applyGradientRuns(dya, dyFirst, xa, xFirst, null, yFirst, dxa, dxFirst, stride, length,
                        runs, center, k1, k2, k3);
            }
        } else if (relu) {
            SegmentLoops.applyGradientRunsRelu(dys, dyFirst, xs, xFirst, ys, yFirst, dxs, dxFirst, stride, length,
                    runs, center, k1, k2, k3);
        } else {
            SegmentLoops.applyGradientRuns(dys, dyFirst, xs, xFirst, null, yFirst, dxs, dxFirst, stride, length,
                    runs, center, k1, k2, k3);
        }
    }

    @Override
    public void applyGradientRows(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs,
                                  long xFirst, float[] ya, MemorySegment ys, long yFirst, float[] dxa,
                                  MemorySegment dxs, long dxFirst, long rows, int channels, float[] center,
                                  float[] k1, float[] k2, float[] k3, float[] scratch) {
        boolean relu = ya != null || ys != null;
        if (dya != null) {
            if (relu) {
                ArrayLoops.applyGradientRowsRelu(dya, dyFirst, xa, xFirst, ya, yFirst, dxa, dxFirst, rows, channels,
                        center, k1, k2, k3, scratch);
            } else {
                ArrayLoops.applyGradientRows(dya, dyFirst, xa, xFirst, null, yFirst, dxa, dxFirst, rows, channels,
                        center, k1, k2, k3, scratch);
            }
        } else if (relu) {
            SegmentLoops.applyGradientRowsRelu(dys, dyFirst, xs, xFirst, ys, yFirst, dxs, dxFirst, rows, channels,
                    center, k1, k2, k3, scratch);
        } else {
            SegmentLoops.applyGradientRows(dys, dyFirst, xs, xFirst, null, yFirst, dxs, dxFirst, rows, channels,
                    center, k1, k2, k3, scratch);
        }
    }

    // ---------------------------------------------------------------- merges into double (scratch only)

    /**
     * Merges a block's accumulators (k updates each) into channels {@code [c0, c1)}, which hold
     * {@code count} elements: Chan's formula in double, all lanes at once; the block's weights are the
     * same for every channel. The overlapping last column gives only its new channels.
     */
    static void mergeRows(float[] acc, int width, int k, float[] pivots, int c0, int c1, int main,
                          double[] mean, double[] m2, int slot, long count) {
        double n = (double) count + k;
        double w1 = k / n;
        double w2 = count * (double) k / n;
        int c = c0;
        for (int end = c0 + main * LANES; c + DLANES <= end; c += DLANES) {
            int a = c - c0;
            DoubleVector blockMean = ((DoubleVector) FloatVector.fromArray(HALF_FLOATS, pivots, c)
                    .convertShape(VectorOperators.F2D, DOUBLES, 0))
                    .add(FloatVector.fromArray(HALF_FLOATS, acc, a).convertShape(VectorOperators.F2D, DOUBLES, 0));
            DoubleVector blockM2 = (DoubleVector) FloatVector.fromArray(HALF_FLOATS, acc, width + a)
                    .convertShape(VectorOperators.F2D, DOUBLES, 0);
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

    /**
     * Whether channels-last rows of {@code tensors} inputs (x; dy and x) are read one at a time rather
     * than four: when they stream from memory and are whole (a block of 512 of 2048 channels read so took
     * 1.7x a copy against 1.1x). The statistics, one input, only from 128 channels on: four rows of 64
     * are one 1 KB stream already, and in order measured 5% slower there; the gradient sums' two inputs
     * at any width (batch norm's backward of 256x64x56x56 NHWC: 44-51 ms in order against 55-58).
     */
    static boolean inOrder(boolean streaming, int channels, int c0, int c1, int tensors) {
        return streaming && c1 - c0 == channels && (tensors > 1 || channels >= 128);
    }

    /** Adds a block's sums into double, all lanes at once; the overlapping last column gives its new channels. */
    static void addRows(float[] acc, int width, int c0, int c1, int main, double[] sumDy, double[] sumDyXc,
                        int slot) {
        int c = c0;
        for (int end = c0 + main * LANES; c + DLANES <= end; c += DLANES) {
            int a = c - c0;
            DoubleVector.fromArray(DOUBLES, sumDy, slot + c)
                    .add(FloatVector.fromArray(HALF_FLOATS, acc, a).convertShape(VectorOperators.F2D, DOUBLES, 0))
                    .intoArray(sumDy, slot + c);
            DoubleVector.fromArray(DOUBLES, sumDyXc, slot + c)
                    .add(FloatVector.fromArray(HALF_FLOATS, acc, width + a)
                            .convertShape(VectorOperators.F2D, DOUBLES, 0))
                    .intoArray(sumDyXc, slot + c);
        }
        // scalar tail: the channels of the last column
        int tail = c1 - LANES;
        for (; c < c1; c++) {
            int a = c < c0 + main * LANES ? c - c0 : main * LANES + (c - tail);
            sumDy[slot + c] += acc[a];
            sumDyXc[slot + c] += acc[width + a];
        }
    }

    // ---------------------------------------------------------------- per-sample norms (layer, RMS)

    @Override
    public double sumSquares(float[] xa, MemorySegment xs, long first, long length, float[] scratch) {
        return xa != null ? ArrayLoops.sumSquares(xa, first, length, scratch)
                : SegmentLoops.sumSquares(xs, first, length, scratch);
    }

    @Override
    public void normalizeAffine(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                int length, float center, float scale, float shift, float[] weight, float[] bias) {
        if (xa != null) {
            ArrayLoops.normalizeAffine(xa, xAt, ya, yAt, length, center, scale, shift, weight, bias);
        } else {
            SegmentLoops.normalizeAffine(xs, xAt, ys, yAt, length, center, scale, shift, weight, bias);
        }
    }

    @Override
    public float normalizeTouching(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                   long length, float center, float scale, float shift, float[] weight, float[] bias,
                                   long touchAt, long touchLength) {
        if (xa != null) {
            return ArrayLoops.normalizeTouching(xa, xAt, ya, yAt, length, center, scale, shift, weight, bias, touchAt,
                    touchLength);
        }
        return SegmentLoops.normalizeTouching(xs, xAt, ys, yAt, length, center, scale, shift, weight, bias, touchAt,
                touchLength);
    }

    @Override
    public void normalizeAffineRows(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                                    int length, int rows, float[] center, float[] scale, float[] shift, int unit,
                                    float[] weight, float[] bias) {
        if (xa != null) {
            ArrayLoops.normalizeAffineRows(xa, xAt, ya, yAt, length, rows, center, scale, shift, unit, weight, bias);
        } else {
            SegmentLoops.normalizeAffineRows(xs, xAt, ys, yAt, length, rows, center, scale, shift, unit, weight,
                    bias);
        }
    }

    @Override
    public void add(float[] aa, MemorySegment as, long aAt, float[] ba, MemorySegment bs, long bAt, float[] outa,
                    MemorySegment outs, long outAt, long length) {
        if (aa != null) {
            ArrayLoops.add(aa, aAt, ba, bAt, outa, outAt, length);
        } else {
            SegmentLoops.add(as, aAt, bs, bAt, outs, outAt, length);
        }
    }

    @Override
    public void weightedGradientSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs,
                                     long xAt, int length, float center, float[] weight, double[] sums, int slot,
                                     float[] scratch) {
        if (dya != null) {
            ArrayLoops.weightedGradientSums(dya, dyAt, xa, xAt, length, center, weight, sums, slot, scratch);
        } else {
            SegmentLoops.weightedGradientSums(dys, dyAt, xs, xAt, length, center, weight, sums, slot, scratch);
        }
    }

    @Override
    public void applyWeightedGradient(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs,
                                      long xAt, float[] dxa, MemorySegment dxs, long dxAt, int length, float center,
                                      float[] weight, float k1, float k2, float k3) {
        if (dya != null) {
            ArrayLoops.applyWeightedGradient(dya, dyAt, xa, xAt, dxa, dxAt, length, center, weight, k1, k2, k3);
        } else {
            SegmentLoops.applyWeightedGradient(dys, dyAt, xs, xAt, dxs, dxAt, length, center, weight, k1, k2, k3);
        }
    }

    @Override
    public void columnSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                           long rowFrom, long rowTo, int features, int f0, int f1, float[] center, float[] scale,
                           double[] dWeight, double[] dBias, int slot, float[] scratch) {
        if (dya != null) {
            ArrayLoops.columnSums(dya, dyFirst, xa, xFirst, rowFrom, rowTo, features, f0, f1, center, scale, dWeight,
                    dBias, slot, scratch);
        } else {
            SegmentLoops.columnSums(dys, dyFirst, xs, xFirst, rowFrom, rowTo, features, f0, f1, center, scale, dWeight,
                    dBias, slot, scratch);
        }
    }
}
