package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import java.lang.foreign.MemorySegment;

/**
 * The loops every kernel implementation provides, each over one piece of a tensor; {@link KernelCall}
 * cuts a call into pieces and runs them, on one thread or several. Arguments are validated by the
 * public facade before they reach a backend; a backend trusts them.
 *
 * <p>A tensor is passed as an array and a segment of which exactly one is non-null (see
 * {@link Memory}), plus the element index a piece starts at. Two shapes of piece exist:
 * <ul>
 *   <li><em>runs</em> (channels-first memory): {@code runs} runs of {@code length} contiguous floats
 *       of one channel, run {@code r} starting at {@code first + r * stride};</li>
 *   <li><em>rows</em> (channels-last memory): {@code rows} consecutive rows of {@code channels}
 *       floats, the first starting at {@code first}.</li>
 * </ul>
 * The ReLU output {@code y} of the gradient loops is null (both parts) when the forward had no fused
 * ReLU; otherwise the gradient {@code g} is dy masked to 0 wherever {@code y <= 0} or y is NaN.
 */
public interface KernelBackend {
    /** Which implementation this is. */
    Implementation implementation();

    /** Floats of per-thread scratch the loops need. */
    int scratchFloats();

    /** The most channels one {@link #sampleStatistics} call takes (its per-channel state lives in scratch). */
    int channelGroup();

    /**
     * Welford statistics of {@code channels} consecutive channels over {@code samples} samples of a
     * channels-first tensor, read in memory order: sample by sample, each channel's run of
     * {@code spatial} floats continuing that channel's accumulators (an implementation may take data
     * small enough to be in cache channel by channel). Channel j's run of sample n starts at
     * {@code first + n * sampleStride + j * spatial} and is taken relative to {@code pivots[pivotFrom + j]};
     * its mean goes to {@code mean[slot + j * slotStride]} and its M2 to {@code m2[...]}, overwritten. Each
     * channel's arithmetic is the same whatever else the call covers.
     */
    void sampleStatistics(float[] xa, MemorySegment xs, long first, long samples, int channels, long spatial,
                          long sampleStride, float[] pivots, int pivotFrom, double[] mean, double[] m2, int slot,
                          int slotStride, float[] scratch);

    /**
     * Welford statistics of channels {@code [c0, c1)} over rows, channel c relative to {@code pivots[c]}:
     * into {@code mean[slot + c]} and {@code m2[slot + c]}, overwritten. {@code streaming}: the rows come
     * from memory, not cache (a loop may then read them in another order; the result is the same).
     */
    void rowStatistics(float[] xa, MemorySegment xs, long first, long rows, int channels, int c0, int c1,
                       float[] pivots, double[] mean, double[] m2, int slot, float[] scratch, boolean streaming);

    /** Whether every float of one channel's runs equals {@code value}. */
    boolean runsEqual(float[] xa, MemorySegment xs, long first, long stride, long length, long runs, float value);

    /**
     * {@code y = max((x - center) * scale + shift, floor)} over one channel's runs, with one rounding for
     * the multiply-add; {@code floor} is 0 for a fused ReLU and negative infinity otherwise. y may be x.
     */
    void normalizeRuns(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                       long stride, long length, long runs, float center, float scale, float shift, float floor);

    /** As {@link #normalizeRuns} over rows, with per-channel center, scale and shift. y may be x. */
    void normalizeRows(float[] xa, MemorySegment xs, long xFirst, float[] ya, MemorySegment ys, long yFirst,
                       long rows, int channels, float[] center, float[] scale, float[] shift, float floor,
                       float[] scratch);

    /**
     * Over one channel's runs, adds {@code sum(g)} to {@code sumDy[slot]} and {@code sum(g * (x - center))}
     * to {@code sumDyXc[slot]}, both in one sweep, run by run.
     */
    void runGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                         float[] ya, MemorySegment ys, long yFirst, long stride, long length, long runs, float center,
                         double[] sumDy, double[] sumDyXc, int slot, float[] scratch);

    /**
     * As {@link #runGradientSums} for channels {@code [c0, c1)} over rows, into {@code slot + c};
     * {@code streaming} as in {@link #rowStatistics}.
     */
    void rowGradientSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                         float[] ya, MemorySegment ys, long yFirst, long rows, int channels, int c0, int c1,
                         float[] center, double[] sumDy, double[] sumDyXc, int slot, float[] scratch,
                         boolean streaming);

    /** {@code dx = k1 * g + k2 * (x - center) + k3} over one channel's runs. dx may be dy. */
    void applyGradientRuns(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                           float[] ya, MemorySegment ys, long yFirst, float[] dxa, MemorySegment dxs, long dxFirst,
                           long stride, long length, long runs, float center, float k1, float k2, float k3);

    /** As {@link #applyGradientRuns} over rows, with per-channel coefficients. dx may be dy. */
    void applyGradientRows(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                           float[] ya, MemorySegment ys, long yFirst, float[] dxa, MemorySegment dxs, long dxFirst,
                           long rows, int channels, float[] center, float[] k1, float[] k2, float[] k3,
                           float[] scratch);

    // ---------------------------------------------------------------- per-sample norms (layer, RMS)
    // A row is one normalized unit of contiguous floats; weight and bias are per element of the row.

    /**
     * {@code sum(x * x)} over {@code length} contiguous floats from {@code first}: float products and
     * sums in blocks of at most {@link Welford#BLOCK} additions per accumulator, added into double. A
     * result that is not finite, or so small that squares may have underflowed, is the caller's to redo.
     */
    double sumSquares(float[] xa, MemorySegment xs, long first, long length, float[] scratch);

    /**
     * {@code y[i] = ((x[i] - center) * scale + shift) * weight[i] + bias[i]} over one row of
     * {@code length} floats, {@code bias} null for 0. y may be x.
     */
    void normalizeAffine(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt, int length,
                         float center, float scale, float shift, float[] weight, float[] bias);

    /**
     * One row of {@link #normalizeAffine} ({@code weight} null: one run of {@link #normalizeRuns} with no
     * floor, {@code length} any), the same floats, while reading the {@code touchLength} floats of x's
     * storage from {@code touchAt}: the next chunk's, so that they come from memory while this row's
     * output goes to it, as a copy's reads and writes overlap, and the chunk's statistics then find them in
     * cache. An implementation may skip the reading (the scalar twin does, and so does a touch shorter
     * than a vector). Returns a value that depends on what was read, for the caller to keep.
     */
    float normalizeTouching(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                            long length, float center, float scale, float shift, float[] weight, float[] bias,
                            long touchAt, long touchLength);

    /**
     * {@link #normalizeAffine} over {@code rows} consecutive rows of {@code length} floats, row q with
     * {@code center[unit + q]}, {@code scale[unit + q]} and {@code shift[unit + q]}: the same floats, the
     * parameters loaded once for several rows (for parameters too large to stay in the first-level cache
     * while rows stream past them). y may be x.
     */
    void normalizeAffineRows(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys, long yAt,
                             int length, int rows, float[] center, float[] scale, float[] shift, int unit,
                             float[] weight, float[] bias);

    /** {@code out = a + b} over {@code length} floats; out may be a or b. */
    void add(float[] aa, MemorySegment as, long aAt, float[] ba, MemorySegment bs, long bAt, float[] outa,
             MemorySegment outs, long outAt, long length);

    /**
     * Over one row, with {@code g = dy * weight}: {@code sums[slot] = sum(g)} and
     * {@code sums[slot + 1] = sum(g * (x - center))}, overwritten, in one sweep.
     */
    void weightedGradientSums(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                              int length, float center, float[] weight, double[] sums, int slot, float[] scratch);

    /** {@code dx = k1 * (dy * weight) + k2 * (x - center) + k3} over one row. dx may be dy. */
    void applyWeightedGradient(float[] dya, MemorySegment dys, long dyAt, float[] xa, MemorySegment xs, long xAt,
                               float[] dxa, MemorySegment dxs, long dxAt, int length, float center, float[] weight,
                               float k1, float k2, float k3);

    /**
     * Columns {@code [f0, f1)} of rows {@code [rowFrom, rowTo)} of {@code features} floats: adds
     * {@code sum over rows of dy * ((x - center[r]) * scale[r])} to {@code dWeight[slot + f]} and
     * {@code sum(dy)} to {@code dBias[slot + f]}. Each column is summed down the rows in float for at most
     * {@link Welford#BLOCK} rows at a time from {@code rowFrom}, then in double, the same way whichever
     * columns a call covers. {@code scratch} holds at least {@code 2 * (f1 - f0)} floats.
     */
    void columnSums(float[] dya, MemorySegment dys, long dyFirst, float[] xa, MemorySegment xs, long xFirst,
                    long rowFrom, long rowTo, int features, int f0, int f1, float[] center, float[] scale,
                    double[] dWeight, double[] dBias, int slot, float[] scratch);
}
