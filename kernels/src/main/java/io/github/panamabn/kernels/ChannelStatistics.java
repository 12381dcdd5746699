package io.github.panamabn.kernels;

import io.github.panamabn.kernels.internal.Welford;
import java.util.Arrays;

/**
 * Per-channel batch statistics: the element count (the same for every channel), and per channel the
 * mean and M2, the sum of squared deviations from the mean. Values are held in double.
 *
 * <p>Statistics are mergeable: {@link #merge(ChannelStatistics)} combines two sets by Chan et al.'s
 * parallel formula, so statistics computed over blocks, threads or processes combine as one pass
 * over all the data would. A kernel overwrites the instance it is given; reuse one instance across
 * calls to avoid allocation. Instances are mutable and not thread-safe.
 */
public final class ChannelStatistics {
    final double[] mean;
    final double[] m2;
    long count;

    /** Empty statistics (count 0) for {@code channels} channels. */
    public ChannelStatistics(int channels) {
        if (channels <= 0) {
            throw new IllegalArgumentException("channels must be positive, got " + channels);
        }
        this.mean = new double[channels];
        this.m2 = new double[channels];
    }

    /**
     * Statistics from explicit values, e.g. received from another process.
     *
     * @param count elements per channel, non-negative
     * @param mean per-channel means
     * @param m2 per-channel sums of squared deviations, each non-negative
     */
    public static ChannelStatistics of(long count, double[] mean, double[] m2) {
        if (mean == null || m2 == null) {
            throw new NullPointerException("mean and m2 must not be null");
        }
        if (mean.length != m2.length) {
            throw new IllegalArgumentException(
                    "mean and m2 must have one value per channel, got lengths " + mean.length + " and " + m2.length);
        }
        if (count < 0) {
            throw new IllegalArgumentException("count must be non-negative, got " + count);
        }
        for (int c = 0; c < m2.length; c++) {
            if (!(m2[c] >= 0)) {
                throw new IllegalArgumentException("m2[" + c + "] must be non-negative, got " + m2[c]);
            }
        }
        ChannelStatistics s = new ChannelStatistics(mean.length);
        System.arraycopy(mean, 0, s.mean, 0, mean.length);
        System.arraycopy(m2, 0, s.m2, 0, m2.length);
        s.count = count;
        return s;
    }

    /** The number of channels. */
    public int channels() {
        return mean.length;
    }

    /** Elements per channel these statistics were taken over. */
    public long count() {
        return count;
    }

    /** The mean of channel {@code c}. */
    public double mean(int c) {
        return mean[c];
    }

    /** The sum of squared deviations from the mean of channel {@code c}. */
    public double m2(int c) {
        return m2[c];
    }

    /** The biased (population) variance M2 / count, as batch norm normalizes with; NaN when empty. */
    public double variance(int c) {
        return count == 0 ? Double.NaN : m2[c] / count;
    }

    /** The unbiased (sample) variance M2 / (count - 1), as running statistics track; NaN when count {@literal <} 2. */
    public double unbiasedVariance(int c) {
        return count < 2 ? Double.NaN : m2[c] / (count - 1);
    }

    /** Resets to empty statistics (count 0). */
    public void clear() {
        Arrays.fill(mean, 0);
        Arrays.fill(m2, 0);
        count = 0;
    }

    /** Copies {@code other} into this instance. */
    public void set(ChannelStatistics other) {
        requireSameChannels(other);
        System.arraycopy(other.mean, 0, mean, 0, mean.length);
        System.arraycopy(other.m2, 0, m2, 0, m2.length);
        count = other.count;
    }

    /**
     * Merges {@code other} into this instance by Chan et al.'s formula: afterwards this holds the
     * statistics of the union of both data sets. {@code other} is unchanged.
     *
     * @throws IllegalArgumentException if the merged count would overflow a long; nothing is changed
     */
    public void merge(ChannelStatistics other) {
        requireSameChannels(other);
        long na = count;
        if (na > Long.MAX_VALUE - other.count) {
            throw new IllegalArgumentException("merged count overflows: " + na + " + " + other.count
                    + " elements per channel exceed " + Long.MAX_VALUE + "; nothing was merged");
        }
        for (int c = 0; c < mean.length; c++) {
            Welford.merge(mean, m2, c, na, other.count, other.mean[c], other.m2[c]);
        }
        count = na + other.count;
    }

    private void requireSameChannels(ChannelStatistics other) {
        if (other == null) {
            throw new NullPointerException("other statistics must not be null");
        }
        if (other.mean.length != mean.length) {
            throw new IllegalArgumentException(
                    "statistics must have the same channel count: " + mean.length + " vs " + other.mean.length);
        }
    }

    @Override
    public String toString() {
        return "ChannelStatistics[count=" + count + ", channels=" + mean.length + "]";
    }
}
