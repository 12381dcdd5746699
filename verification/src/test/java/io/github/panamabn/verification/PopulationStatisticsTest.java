package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.BatchNormOptions;
import io.github.panamabn.nn.norm.NonFiniteBatchException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Exact population statistics (what PreciseBN approximates): batches of different sizes, layouts and
 * storages merged give the statistics of their concatenation, which the oracle computes in two passes.
 */
class PopulationStatisticsTest {
    private static final int C = 5;
    private static final int[] BATCH_SIZES = {7, 1, 16, 3, 30};

    @Test
    void mergedBatchesGiveTheStatisticsOfAllTheData() {
        // The data set: 57 samples of 5 channels of 6x4, offset far from 0 so that averaging per-batch
        // variances (PreciseBN's approximation) would differ from the population's.
        List<float[]> parts = new ArrayList<>();
        List<TensorView> views = new ArrayList<>();
        int total = 0;
        try (Arena arena = Arena.ofConfined()) {
            for (int b = 0; b < BATCH_SIZES.length; b++) {
                TensorShape nchw = TensorShape.nchw(BATCH_SIZES[b], C, 6, 4);
                float[] x = new TensorCase(nchw, b % 2 == 0 ? DataFamily.OFFSET : DataFamily.GAUSSIAN, 40 + b, 0)
                        .data();
                for (int i = 0; i < x.length; i++) {
                    x[i] += b * 0.5f;                                  // batches differ in mean too
                }
                parts.add(x);
                total += BATCH_SIZES[b];
                if (b % 3 == 1) {
                    // this batch channels-last on native memory
                    TensorShape nhwc = nchw.withLayout(Layout.CHANNELS_LAST);
                    MemorySegment s = arena.allocate((long) x.length * Float.BYTES);
                    s.copyFrom(MemorySegment.ofArray(toChannelsLast(nchw, x)));
                    views.add(TensorView.of(nhwc, s));
                } else {
                    views.add(TensorView.of(nchw, x));
                }
            }
            float[] all = new float[total * C * 24];
            TensorShape whole = TensorShape.nchw(total, C, 6, 4);
            int at = 0;
            for (float[] p : parts) {
                System.arraycopy(p, 0, all, at, p.length);             // NCHW: samples are contiguous
                at += p.length;
            }
            // The concatenation's statistics: the kernels' over the whole tensor, and the oracle's.
            ChannelStatistics wholeStats = new ChannelStatistics(C);
            BatchNorm.get().statistics(TensorView.of(whole, all), wholeStats);
            ChannelStatistics merged = new ChannelStatistics(C);
            ChannelStatistics one = new ChannelStatistics(C);
            for (TensorView v : views) {
                BatchNorm.get().statistics(v, one);
                merged.merge(one);
            }
            Oracle.Statistics o = Oracle.statistics(whole, all, 0);
            Tolerance.assertStatistics(o, merged, "merged batches");
            Tolerance.assertStatistics(o, wholeStats, "whole tensor");

            BatchNorm2d bn = new BatchNorm2d(C);
            bn.forward(TensorShape.nchw(2, C, 6, 4), java.util.Arrays.copyOf(parts.get(0), 2 * C * 24),
                    new float[2 * C * 24]);
            float[] weight = bn.weight().clone();
            bn.recomputeRunningStatistics(views);
            assertEquals(BATCH_SIZES.length, bn.numBatchesTracked());
            assertArrayEquals(weight, bn.weight(), "weights untouched");
            // The layer's values are the merged statistics, rounded to float once; both the merged and
            // the whole tensor's statistics are within the kernels' bound of the oracle's (above).
            for (int c = 0; c < C; c++) {
                assertEquals((float) merged.mean(c), bn.runningMean()[c], "running_mean[" + c + "]");
                assertEquals((float) merged.unbiasedVariance(c), bn.runningVar()[c], "running_var[" + c + "]");
            }
            // Keras options keep the biased variance.
            BatchNorm2d keras = new BatchNorm2d(C, BatchNormOptions.fromKeras(0.99f, 1e-3f));
            keras.recomputeRunningStatistics(views);
            for (int c = 0; c < C; c++) {
                assertEquals((float) merged.variance(c), keras.runningVar()[c]);
            }
        }
    }

    @Test
    void badBatchesChangeNothing() {
        BatchNorm2d bn = new BatchNorm2d(C);
        float[] mean = bn.runningMean().clone();
        float[] var = bn.runningVar().clone();
        TensorShape good = TensorShape.nchw(4, C, 3, 3);
        float[] x = new TensorCase(good, DataFamily.GAUSSIAN, 1, 0).data();
        float[] bad = x.clone();
        bad[17] = Float.NaN;
        Throwable t = assertThrows(NonFiniteBatchException.class,
                () -> bn.recomputeRunningStatistics(List.of(TensorView.of(good, x), TensorView.of(good, bad))));
        assertTrue(t.getMessage().contains("nothing was changed"), t.getMessage());
        t = assertThrows(IllegalArgumentException.class, () -> bn.recomputeRunningStatistics(List.of(
                TensorView.of(good, x), TensorView.of(TensorShape.nchw(4, C + 1, 3, 3), new float[4 * (C + 1) * 9]))));
        assertTrue(t.getMessage().contains("expects " + C + " channels"), t.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bn.recomputeRunningStatistics(List.of()));
        assertArrayEquals(mean, bn.runningMean());
        assertArrayEquals(var, bn.runningVar());
        assertEquals(0, bn.numBatchesTracked());
        assertThrows(IllegalStateException.class, () -> new BatchNorm2d(C, BatchNormOptions.defaults()
                .withTrackRunningStats(false)).recomputeRunningStatistics(List.of(TensorView.of(good, x))));
    }

    private static float[] toChannelsLast(TensorShape nchw, float[] x) {
        float[] out = new float[x.length];
        TensorShape nhwc = nchw.withLayout(Layout.CHANNELS_LAST);
        for (long n = 0; n < nchw.batch(); n++) {
            for (int c = 0; c < nchw.channels(); c++) {
                for (long s = 0; s < nchw.spatialSize(); s++) {
                    out[(int) nhwc.index(n, c, s)] = x[(int) nchw.index(n, c, s)];
                }
            }
        }
        return out;
    }
}
