package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Scalar pieces of the blocked Welford reduction shared by every implementation.
 *
 * <p>float32 Welford over a whole long channel stalls: once {@code delta / n} falls under half an
 * ulp of the running mean, the mean stops moving (sorted data shows it first). So every float
 * accumulator runs for at most {@link #BLOCK} updates, then its (count, mean, M2) is merged into a
 * double accumulator with Chan et al.'s formula. The float chain is short, the merge chain is in
 * double.
 *
 * <p>Every update works on {@code x - pivot}, where the pivot is the channel's first element: the
 * difference is exact or nearly so, and the float chain then carries the data's spread, not its
 * offset, so a mean of 1e4 with unit variance loses no more than a mean of 0 does.
 */
public final class Welford {
    /** The most updates one float accumulator takes before it is merged into double. */
    public static final int BLOCK = 64;

    /** {@code RECIPROCAL[k] = 1/k}: a multiply replaces the division in the k-th update. */
    static final float[] RECIPROCAL = new float[BLOCK + 1];

    static {
        for (int k = 1; k <= BLOCK; k++) {
            RECIPROCAL[k] = 1f / k;
        }
    }

    private Welford() {
    }

    /**
     * Merges a block (count {@code nb}, mean {@code mb}, M2 {@code qb}) into channel {@code c} of the
     * double accumulators, which hold {@code na} elements (their content is ignored when {@code na} is 0).
     */
    public static void merge(double[] mean, double[] m2, int c, long na, long nb, double mb, double qb) {
        if (nb == 0) {
            return;
        }
        if (na == 0) {
            mean[c] = mb;
            m2[c] = qb;
            return;
        }
        double n = (double) na + nb;
        double d = mb - mean[c];
        mean[c] += d * (nb / n);
        m2[c] += qb + d * d * ((double) na * nb / n);
    }

    /**
     * Accumulates {@code len} floats of x ({@link Memory}) starting at element {@code start}, {@code stride}
     * elements apart, into channel {@code c}, which holds {@code na} elements so far.
     *
     * @param pivot the channel's pivot, subtracted before each update
     * @return the channel's new element count, {@code na + len}
     */
    public static long accumulate(float[] xa, MemorySegment xs, long start, long len, long stride, float pivot,
                                  double[] mean, double[] m2, int c, long na) {
        long n = na;
        long at = start;
        for (long done = 0; done < len; ) {
            int steps = (int) Math.min(BLOCK, len - done);
            float m = 0;
            float q = 0;
            for (int k = 1; k <= steps; k++, at += stride) {
                float v = Memory.get(xa, xs, at) - pivot;
                float d = v - m;
                m = Math.fma(d, RECIPROCAL[k], m);
                q = Math.fma(d, v - m, q);
            }
            merge(mean, m2, c, n, steps, (double) pivot + m, q);
            n += steps;
            done += steps;
        }
        return n;
    }

    /**
     * Merges {@code lanes} float accumulators of {@code k} updates each, stored as means at
     * {@code acc[from .. from+lanes)} and M2s at {@code acc[m2From .. m2From+lanes)}, relative to
     * {@code pivot}, into channel {@code c}; then zeroes them.
     *
     * @return the channel's new element count
     */
    static long mergeLanes(float[] acc, int from, int m2From, int lanes, int k, float pivot,
                           double[] mean, double[] m2, int c, long na) {
        // Four partial sums per loop: one chain of 64 double additions would cost more than the block.
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int four = lanes & ~3;
        for (int i = 0; i < four; i += 4) {
            s0 += acc[from + i];
            s1 += acc[from + i + 1];
            s2 += acc[from + i + 2];
            s3 += acc[from + i + 3];
        }
        for (int i = four; i < lanes; i++) {
            s0 += acc[from + i];
        }
        double mb = (s0 + s1 + s2 + s3) / lanes;
        double b0 = 0;
        double b1 = 0;
        double w0 = 0;
        double w1 = 0;
        int two = lanes & ~1;
        for (int i = 0; i < two; i += 2) {
            double d0 = acc[from + i] - mb;
            double d1 = acc[from + i + 1] - mb;
            b0 += d0 * d0;
            b1 += d1 * d1;
            w0 += acc[m2From + i];
            w1 += acc[m2From + i + 1];
        }
        if (two < lanes) {
            double d = acc[from + two] - mb;
            b0 += d * d;
            w0 += acc[m2From + two];
        }
        Arrays.fill(acc, from, from + lanes, 0f);
        Arrays.fill(acc, m2From, m2From + lanes, 0f);
        long nb = (long) lanes * k;
        merge(mean, m2, c, na, nb, pivot + mb, (w0 + w1) + k * (b0 + b1));
        return na + nb;
    }

    /**
     * Channel {@code c}'s mean and M2 by two passes in double, for channels where float arithmetic
     * failed: double squares neither overflow nor underflow for any float input, so finite data get
     * finite, correct statistics; NaN or infinite data stay non-finite.
     */
    public static void recomputeInDouble(TensorShape shape, float[] xa, MemorySegment xs, long xOffset, int c,
                                         double[] mean, double[] m2) {
        double sum = 0;
        for (long n = 0; n < shape.batch(); n++) {
            for (long s = 0; s < shape.spatialSize(); s++) {
                sum += Memory.get(xa, xs, xOffset + shape.index(n, c, s));
            }
        }
        double mu = sum / shape.perChannelCount();
        double squares = 0;
        for (long n = 0; n < shape.batch(); n++) {
            for (long s = 0; s < shape.spatialSize(); s++) {
                double d = Memory.get(xa, xs, xOffset + shape.index(n, c, s)) - mu;
                squares += d * d;
            }
        }
        mean[c] = mu;
        m2[c] = squares;
    }

    /**
     * {@code y = max((x - mean) * scale + shift, floor)} in double, rounded once to float, over
     * {@code length} contiguous elements: for channels whose deviations from the mean do not fit a float.
     */
    public static void normalizeInDouble(float[] xa, MemorySegment xs, long xAt, float[] ya, MemorySegment ys,
                                         long yAt, long length, double mean, double scale, double shift,
                                         float floor) {
        for (long i = 0; i < length; i++) {
            double v = (Memory.get(xa, xs, xAt + i) - mean) * scale + shift;
            Memory.set(ya, ys, yAt + i, Math.max((float) v, floor));
        }
    }

    /** The largest |x - mean| over channel {@code c}, in double. */
    public static double largestDeviation(TensorShape shape, float[] xa, MemorySegment xs, long xOffset, int c,
                                          double mean) {
        double largest = 0;
        for (long n = 0; n < shape.batch(); n++) {
            for (long s = 0; s < shape.spatialSize(); s++) {
                largest = Math.max(largest, Math.abs(Memory.get(xa, xs, xOffset + shape.index(n, c, s)) - mean));
            }
        }
        return largest;
    }
}
