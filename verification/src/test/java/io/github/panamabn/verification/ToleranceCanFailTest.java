package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
import org.junit.jupiter.api.Test;

/**
 * The tolerances can fail: implementations known to be wrong, or merely naive, are rejected by the
 * same bounds the kernels pass.
 */
class ToleranceCanFailTest {

    @Test
    void naiveFloatSumOfSquaresIsRejectedOnOffsetData() {
        float[] x = LargeChannelTest.offsetChannel(false);
        TensorShape shape = TensorShape.nc(x.length, 1);
        float sum = 0;
        float squares = 0;
        for (float v : x) {
            sum += v;
            squares += v * v;
        }
        double mean = sum / x.length;
        double m2 = (squares / x.length - mean * mean) * x.length;
        assertRejected(shape, x, ChannelStatistics.of(x.length, new double[] {mean}, new double[] {Math.max(m2, 0)}));
    }

    @Test
    void wholeChannelFloatWelfordIsRejectedOnSortedData() {
        float[] x = LargeChannelTest.offsetChannel(true);
        TensorShape shape = TensorShape.nc(x.length, 1);
        float mean = 0;
        float m2 = 0;
        for (int i = 0; i < x.length; i++) {
            float d = x[i] - mean;
            mean += d / (i + 1);
            m2 += d * (x[i] - mean);
        }
        assertRejected(shape, x, ChannelStatistics.of(x.length, new double[] {mean}, new double[] {m2}));
    }

    @Test
    void losingOneElementIsRejected() {
        // A tail bug: statistics of all but the last element of a 7x3x61 tensor.
        TensorCase tc = new TensorCase(TensorShape.nchw(7, 3, 61, 1), DataFamily.GAUSSIAN, 5, 0);
        float[] x = tc.data();
        TensorShape shape = tc.shape();
        ChannelStatistics s = new ChannelStatistics(3);
        Calls.statistics(BatchNorm.get(), shape, x, 0, s);
        Oracle.Statistics o = Oracle.statistics(shape, x, 0);
        double[] mean = new double[3];
        double[] m2 = new double[3];
        long n = shape.perChannelCount();
        for (int c = 0; c < 3; c++) {
            double last = x[(int) shape.index(shape.batch() - 1, c, shape.spatialSize() - 1)];
            mean[c] = (o.mean()[c] * n - last) / (n - 1);
            m2[c] = o.m2()[c] - (last - o.mean()[c]) * (last - mean[c]);
        }
        // Same count, so only the values can betray the lost element.
        assertRejected(shape, x, ChannelStatistics.of(n, mean, m2));
    }

    @Test
    void floatProductsThatUnderflowAreRejectedOnTinyData() {
        // Data around 1e-30: float squares of the deviations underflow to 0, so a float-only Welford
        // reports variance 0 for a true variance near 1e-60. An absolute floor of one subnormal float
        // in the bound would let that pass.
        TensorCase tc = new TensorCase(TensorShape.nc(1000, 2), DataFamily.TINY, 3, 0);
        float[] x = tc.data();
        Oracle.Statistics o = Oracle.statistics(tc.shape(), x, 0);
        assertRejected(tc.shape(), x, ChannelStatistics.of(1000, o.mean(), new double[] {0, 0}));
    }

    private static void assertRejected(TensorShape shape, float[] x, ChannelStatistics wrong) {
        Oracle.Statistics o = Oracle.statistics(shape, x, 0);
        assertThrows(AssertionError.class, () -> Tolerance.assertStatistics(o, wrong, "mutant"));
    }
}
