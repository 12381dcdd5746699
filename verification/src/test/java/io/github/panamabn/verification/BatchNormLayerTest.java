package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.BatchNorm3d;
import io.github.panamabn.nn.norm.BatchNormFolding;
import io.github.panamabn.nn.norm.BatchNormLayer;
import io.github.panamabn.nn.norm.BatchNormOptions;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The layers' PyTorch semantics: running statistics, modes, options, errors, folding. */
class BatchNormLayerTest {
    private static final TensorShape NCHW = TensorShape.nchw(6, 5, 7, 3);

    static float[] batch(TensorShape shape, long seed) {
        return new TensorCase(shape, DataFamily.GAUSSIAN, seed, 0).data();
    }

    /** momentum as a string: "null" is the cumulative moving average. */
    @ParameterizedTest
    @ValueSource(strings = {"0.1", "0.01", "null"})
    void runningStatisticsFollowTheOracleRecurrence(String momentumText) {
        Float momentum = momentumText.equals("null") ? null : Float.valueOf(momentumText);
        for (TensorShape shape : new TensorShape[] {NCHW, NCHW.withLayout(io.github.panamabn.kernels.Layout.CHANNELS_LAST)}) {
            BatchNorm2d bn = new BatchNorm2d(5, BatchNormOptions.defaults().withMomentum(momentum));
            double[] mean = new double[5];
            double[] var = new double[5];
            java.util.Arrays.fill(var, 1);
            float[] y = new float[(int) shape.elementCount()];
            for (int step = 1; step <= 7; step++) {
                float[] x = batch(shape, step);
                bn.forward(shape, x, y);
                Oracle.Statistics o = Oracle.statistics(shape, x, 0);
                double m = momentum == null ? 1.0 / step : momentum;
                for (int c = 0; c < 5; c++) {
                    double unbiased = o.m2()[c] / (o.count() - 1);
                    mean[c] = (1 - m) * mean[c] + m * o.mean()[c];
                    var[c] = (1 - m) * var[c] + m * unbiased;
                }
            }
            assertEquals(7, bn.numBatchesTracked());
            for (int c = 0; c < 5; c++) {
                assertEquals(mean[c], bn.runningMean()[c], 1e-6 * (1 + Math.abs(mean[c])), "running_mean " + c);
                assertEquals(var[c], bn.runningVar()[c], 1e-6 * var[c], "running_var " + c);
            }
        }
    }

    @Test
    void evalNormalizesWithRunningStatisticsAndTrainingWithTheBatch() {
        BatchNorm2d bn = new BatchNorm2d(5);
        float[] x = batch(NCHW, 3);
        float[] y = new float[x.length];
        bn.forward(NCHW, x, y);
        bn.eval();
        float[] yEval = new float[x.length];
        bn.forward(NCHW, x, yEval);
        double[] expected = Oracle.normalize(NCHW, x, 0, Oracle.toDouble(bn.runningMean()),
                Oracle.toDouble(bn.runningVar()), null, null, 1e-5, false);
        for (int i = 0; i < x.length; i++) {
            assertEquals(expected[i], yEval[i], 1e-5 * (1 + Math.abs(expected[i])));
        }
        // Eval does not move the running statistics; training again does.
        float[] before = bn.runningMean().clone();
        bn.forward(NCHW, x, yEval);
        assertArrayEquals(before, bn.runningMean());
        bn.train();
        bn.forward(NCHW, x, y);
        assertEquals(2, bn.numBatchesTracked());
        assertTrue(bn.runningMean()[0] != before[0]);
    }

    @Test
    void withoutRunningStatisticsEvalUsesTheBatch() {
        BatchNorm2d bn = new BatchNorm2d(5, BatchNormOptions.defaults().withTrackRunningStats(false));
        assertNull(bn.runningMean());
        float[] x = batch(NCHW, 4);
        float[] train = new float[x.length];
        float[] eval = new float[x.length];
        bn.forward(NCHW, x, train);
        bn.eval().forward(NCHW, x, eval);
        assertArrayEquals(train, eval);
        assertEquals(0, bn.numBatchesTracked());
    }

    @Test
    void affineOffHasNoParametersAndNormalizesOnly() {
        BatchNorm1d bn = new BatchNorm1d(4, BatchNormOptions.defaults().withAffine(false));
        assertNull(bn.weight());
        TensorShape shape = TensorShape.nc(9, 4);
        float[] x = batch(shape, 5);
        float[] y = new float[x.length];
        bn.forward(shape, x, y);
        Oracle.Statistics o = Oracle.statistics(shape, x, 0);
        double[] expected = Oracle.normalize(shape, x, 0, o.mean(), o.variance(), null, null, 1e-5, false);
        for (int i = 0; i < x.length; i++) {
            assertEquals(expected[i], y[i], 1e-5);
        }
        assertEquals(2, bn.stateDict("").size() - 1, "running_mean, running_var, num_batches_tracked; no weight or bias");
    }

    @Test
    void oneValuePerChannelInTrainingIsAnErrorThatChangesNothing() {
        BatchNorm1d bn = new BatchNorm1d(3);
        float[] y = {7, 7, 7};
        Throwable t = assertThrows(IllegalArgumentException.class, () -> bn.forward(TensorShape.nc(1, 3), new float[3], y));
        assertTrue(t.getMessage().contains("more than 1 value per channel"), t.getMessage());
        assertArrayEquals(new float[] {7, 7, 7}, y);
        assertEquals(0, bn.numBatchesTracked());
        BatchNorm2d bn2 = new BatchNorm2d(3);
        assertThrows(IllegalArgumentException.class, () -> bn2.forward(TensorShape.nchw(1, 3, 1, 1), new float[3], new float[3]));
        // In eval mode one value per channel is fine.
        bn.eval().forward(TensorShape.nc(1, 3), new float[] {1, 2, 3}, y);
    }

    @Test
    void layersCheckTheirRankAndChannels() {
        Throwable t = assertThrows(IllegalArgumentException.class,
                () -> new BatchNorm2d(3).forward(TensorShape.nc(4, 3), new float[12], new float[12]));
        assertTrue(t.getMessage().contains("expected 4D input"), t.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new BatchNorm1d(3).forward(TensorShape.nchw(4, 3, 2, 2), new float[48], new float[48]));
        assertThrows(IllegalArgumentException.class,
                () -> new BatchNorm3d(3).forward(TensorShape.nchw(4, 3, 2, 2), new float[48], new float[48]));
        t = assertThrows(IllegalArgumentException.class,
                () -> new BatchNorm2d(4).forward(NCHW, new float[630], new float[630]));
        assertTrue(t.getMessage().contains("BatchNorm2d(4, ") && t.getMessage().contains("expects 4 channels"), t.getMessage());
        new BatchNorm3d(2).forward(TensorShape.ncdhw(2, 2, 3, 2, 2), new float[48], new float[48]);
        new BatchNorm1d(2).forward(TensorShape.ncl(2, 2, 5), new float[20], new float[20]);
    }

    @Test
    void kerasArgumentsBuildTheSameLayerAsTheirPyTorchTranslation() {
        BatchNormOptions keras = BatchNormOptions.fromKeras(0.99f, 1e-3f);
        assertEquals(0.01f, keras.momentum());
        assertEquals(1e-3f, keras.eps());
        assertEquals(keras, BatchNormOptions.kerasDefaults());
        BatchNorm2d fromKeras = new BatchNorm2d(5, keras);
        BatchNorm2d translated = new BatchNorm2d(5, new BatchNormOptions(1e-3f, 0.01f, true, true, false));
        BatchNorm2d pytorch = new BatchNorm2d(5, BatchNormOptions.defaults().withEps(1e-3f).withMomentum(0.01f));
        float[] a = new float[630];
        float[] b = new float[630];
        float[] c = new float[630];
        for (int step = 0; step < 3; step++) {
            float[] x = batch(NCHW, 10 + step);
            fromKeras.forward(NCHW, x, a);
            translated.forward(NCHW, x, b);
            pytorch.forward(NCHW, x, c);
            assertArrayEquals(a, b);
            assertArrayEquals(a, c, "training outputs do not depend on how running_var is tracked");
        }
        assertArrayEquals(fromKeras.runningMean(), translated.runningMean());
        assertArrayEquals(fromKeras.runningVar(), translated.runningVar());
        assertArrayEquals(fromKeras.runningMean(), pytorch.runningMean());
        // Keras's moving variance takes the biased batch variance, PyTorch's the unbiased one.
        assertTrue(pytorch.runningVar()[0] > fromKeras.runningVar()[0]);
    }

    @Test
    void layerBackwardMatchesTheKernelAndAccumulatesGradients() {
        BatchNorm2d bn = new BatchNorm2d(5, BatchNormOptions.defaults(), Activation.RELU);
        SplittableRandom r = new SplittableRandom(9);
        for (int c = 0; c < 5; c++) {
            bn.weight()[c] = (float) r.nextDouble(0.5, 2);
            bn.bias()[c] = (float) r.nextDouble(-1, 1);
        }
        float[] x = batch(NCHW, 21);
        float[] dy = batch(NCHW, 22);
        float[] y = new float[x.length];
        float[] dx = new float[x.length];
        bn.forward(NCHW, x, y);
        bn.backward(NCHW, x, y, dy, dx);
        float[] mean = new float[5];
        float[] invStd = new float[5];
        float[] y2 = new float[x.length];
        Calls.forwardTraining(BatchNorm.get(), NCHW, x, 0, y2, 0, bn.weight(), bn.bias(), 1e-5f, Activation.RELU, null, mean, invStd);
        assertArrayEquals(y2, y);
        float[] dx2 = new float[x.length];
        float[] dgamma = new float[5];
        float[] dbeta = new float[5];
        Calls.backward(BatchNorm.get(), NCHW, x, 0, dy, 0, y, 0, dx2, 0, bn.weight(), mean, invStd, true, Activation.RELU,
                dgamma, dbeta);
        assertArrayEquals(dx2, dx);
        assertArrayEquals(dgamma, bn.weightGrad());
        assertArrayEquals(dbeta, bn.biasGrad());
        bn.backward(NCHW, x, y, dy, null);
        for (int c = 0; c < 5; c++) {
            assertEquals(2 * dgamma[c], bn.weightGrad()[c], 1e-6 * Math.abs(dgamma[c]));
        }
        bn.zeroGrad();
        assertArrayEquals(new float[5], bn.weightGrad());
    }

    @Test
    void evalBackwardUsesTheRunningStatistics() {
        BatchNorm2d bn = new BatchNorm2d(5);
        float[] x = batch(NCHW, 31);
        float[] y = new float[x.length];
        bn.forward(NCHW, x, y);
        bn.eval();
        float[] dy = batch(NCHW, 32);
        float[] dx = new float[x.length];
        bn.backward(NCHW, x, null, dy, dx);
        double[] invStd = new double[5];
        for (int c = 0; c < 5; c++) {
            invStd[c] = 1 / Math.sqrt(bn.runningVar()[c] + 1e-5);
        }
        Oracle.Gradients o = Oracle.backward(NCHW, x, 0, dy, 0, null, 0, bn.weight(), Oracle.toDouble(bn.runningMean()),
                invStd, false);
        for (int i = 0; i < x.length; i++) {
            assertEquals(o.dx()[i], dx[i], 1e-6 * (1 + Math.abs(o.dx()[i])));
        }
        // An eval backward leaves what the training forward saved: a training backward still differentiates it.
        BatchNorm2d fresh = new BatchNorm2d(5);
        fresh.forward(NCHW, x, new float[x.length]);
        float[] expected = new float[x.length];
        fresh.backward(NCHW, x, null, dy, expected);
        bn.train().backward(NCHW, x, null, dy, dx);
        assertArrayEquals(expected, dx);
        assertThrows(IllegalStateException.class, () -> new BatchNorm2d(5).backward(NCHW, x, null, dy, dx),
                "training-mode backward before any training forward has no batch statistics");
    }

    @Test
    void foldingIntoTheLinearBeforeGivesTheSameOutputs() {
        int in = 7;
        int out = 5;
        SplittableRandom r = new SplittableRandom(41);
        float[] w = new float[out * in];
        float[] b = new float[out];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextDouble(-1, 1);
        }
        for (int i = 0; i < out; i++) {
            b[i] = (float) r.nextDouble(-1, 1);
        }
        BatchNorm1d bn = new BatchNorm1d(out);
        TensorShape hidden = TensorShape.nc(16, out);
        float[] x = batch(TensorShape.nc(16, in), 42);
        float[] h = linear(x, w, b, 16, in, out);
        for (int step = 0; step < 5; step++) {
            bn.forward(hidden, h, new float[h.length]);
        }
        for (int c = 0; c < out; c++) {
            bn.weight()[c] = (float) r.nextDouble(0.5, 2);
            bn.bias()[c] = (float) r.nextDouble(-1, 1);
        }
        bn.eval();
        float[] unfolded = new float[h.length];
        bn.forward(hidden, h, unfolded);
        float[] wf = w.clone();
        float[] bf = BatchNormFolding.fold(wf, b.clone(), bn);
        float[] folded = linear(x, wf, bf, 16, in, out);
        for (int i = 0; i < folded.length; i++) {
            assertEquals(unfolded[i], folded[i], 1e-5 * (1 + Math.abs(unfolded[i])));
        }
    }

    private static float[] linear(float[] x, float[] w, float[] b, int n, int in, int out) {
        float[] y = new float[n * out];
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) {
                double s = b[o];
                for (int k = 0; k < in; k++) {
                    s += (double) w[o * in + k] * x[i * in + k];
                }
                y[i * out + o] = (float) s;
            }
        }
        return y;
    }

    @Test
    void evalForwardFromEightThreadsMatchesOneThread() throws Exception {
        BatchNorm2d bn = new BatchNorm2d(5, BatchNormOptions.defaults(), Activation.RELU);
        float[] warm = new float[630];
        for (int step = 0; step < 3; step++) {
            bn.forward(NCHW, batch(NCHW, 50 + step), warm);
        }
        bn.eval();
        float[][] inputs = new float[8][];
        float[][] expected = new float[8][];
        for (int t = 0; t < 8; t++) {
            inputs[t] = batch(NCHW, 60 + t);
            expected[t] = new float[630];
            bn.forward(NCHW, inputs[t], expected[t]);
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            java.util.List<java.util.concurrent.Future<Boolean>> results = new java.util.ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int id = t;
                results.add(pool.submit(() -> {
                    float[] y = new float[630];
                    boolean same = true;
                    for (int call = 0; call < 500; call++) {
                        bn.forward(NCHW, inputs[id], y);
                        same &= java.util.Arrays.equals(y, expected[id]);
                    }
                    return same;
                }));
            }
            for (java.util.concurrent.Future<Boolean> f : results) {
                assertTrue(f.get());
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void freezeServesTheSameOutputs() {
        BatchNormLayer bn = new BatchNorm2d(5);
        float[] y = new float[630];
        bn.forward(NCHW, batch(NCHW, 70), y);
        bn.eval();
        float[] x = batch(NCHW, 71);
        float[] a = new float[630];
        float[] b = new float[630];
        bn.forward(NCHW, x, a);
        bn.freeze().forward(NCHW, x, b);
        assertArrayEquals(a, b);
    }
}
