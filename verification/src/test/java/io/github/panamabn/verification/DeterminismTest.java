package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm2d;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every kernel gives the same bits on any number of threads, and those bits are right. The tensors
 * are past the size where calls go parallel, and shaped to take every way the work is cut: one task
 * per channel, chunks of few channels merged in order, runs cut into pieces, channels-last stripes
 * with a lane tail, several channel blocks, rows narrower than a vector.
 */
class DeterminismTest {
    private static final int[] THREADS = {1, 2, 3, 4};

    static List<TensorShape> shapes() {
        return List.of(
                TensorShape.nchw(8, 64, 28, 28),              // a task per channel
                TensorShape.nchw(70, 3, 31, 33),               // few channels: chunks, merged in order
                TensorShape.nchw(1, 1, 600, 520),              // one run, cut into pieces
                TensorShape.ncl(256, 2, 301),                  // many chunks of short runs
                TensorShape.of(Layout.CHANNELS_LAST, 16, 61, 28, 28),  // stripes, a lane tail
                TensorShape.of(Layout.CHANNELS_LAST, 8, 1000, 16, 17), // two channel blocks, short stripes
                TensorShape.nc(300_001, 3),                    // rows narrower than a vector
                TensorShape.of(Layout.CHANNELS_LAST, 4, 40, 9, 11, 13));
    }

    /** Everything one run of the kernels produces, as bits. */
    private record Results(List<int[]> floats, List<double[]> doubles) {
        static Results of(BatchNorm bn, TensorShape shape, float[] x, float[] dy, float[] gamma, float[] beta) {
            int channels = shape.channels();
            int count = x.length;
            List<int[]> f = new ArrayList<>();
            List<double[]> d = new ArrayList<>();
            ChannelStatistics s = new ChannelStatistics(channels);
            Calls.statistics(bn, shape, x, 0, s);
            d.add(means(s));
            d.add(m2s(s));
            float[] y = new float[count];
            float[] saveMean = new float[channels];
            float[] saveInvStd = new float[channels];
            ChannelStatistics t = new ChannelStatistics(channels);
            Calls.forwardTraining(bn, shape, x, 0, y, 0, gamma, beta, 1e-5f, Activation.RELU, t, saveMean, saveInvStd);
            d.add(means(t));
            d.add(m2s(t));
            f.add(bits(y));
            f.add(bits(saveMean));
            f.add(bits(saveInvStd));
            float[] inPlace = x.clone();
            Calls.forwardTraining(bn, shape, inPlace, 0, inPlace, 0, gamma, beta, 1e-5f, Activation.IDENTITY, null, null,
                    null);
            f.add(bits(inPlace));
            float[] inferred = new float[count];
            float[] var = new float[channels];
            for (int c = 0; c < channels; c++) {
                var[c] = (float) t.variance(c);
            }
            Calls.forwardInference(bn, shape, x, 0, inferred, 0, saveMean, var, gamma, beta, 1e-5f, Activation.IDENTITY);
            f.add(bits(inferred));
            for (boolean training : new boolean[] {true, false}) {
                float[] dx = new float[count];
                float[] dgamma = new float[channels];
                float[] dbeta = new float[channels];
                Calls.backward(bn, shape, x, 0, dy, 0, y, 0, dx, 0, gamma, saveMean, saveInvStd, training, Activation.RELU,
                        dgamma, dbeta);
                f.add(bits(dx));
                f.add(bits(dgamma));
                f.add(bits(dbeta));
            }
            float[] dyInPlace = dy.clone();
            Calls.backward(bn, shape, x, 0, dyInPlace, 0, null, 0, dyInPlace, 0, gamma, saveMean, saveInvStd, true,
                    Activation.IDENTITY, null, null);
            f.add(bits(dyInPlace));
            return new Results(f, d);
        }

        void assertSame(Results other, String what) {
            for (int i = 0; i < floats.size(); i++) {
                assertArrayEquals(floats.get(i), other.floats.get(i), what + ", float result " + i);
            }
            for (int i = 0; i < doubles.size(); i++) {
                assertArrayEquals(doubles.get(i), other.doubles.get(i), what + ", double result " + i);
            }
        }
    }

    private static double[] means(ChannelStatistics s) {
        double[] m = new double[s.channels()];
        for (int c = 0; c < m.length; c++) {
            m[c] = s.mean(c);
        }
        return m;
    }

    private static double[] m2s(ChannelStatistics s) {
        double[] m = new double[s.channels()];
        for (int c = 0; c < m.length; c++) {
            m[c] = s.m2(c);
        }
        return m;
    }

    private static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }

    private static float[][] data(TensorShape shape, long seed) {
        int count = Math.toIntExact(shape.elementCount());
        float[] x = new float[count];
        DataFamily.OFFSET.fill(shape, x, 0, new SplittableRandom(seed));
        SplittableRandom r = new SplittableRandom(seed + 1);
        float[] dy = new float[count];
        for (int i = 0; i < count; i++) {
            dy[i] = (float) DataFamily.gaussian(r);
        }
        float[] gamma = new float[shape.channels()];
        float[] beta = new float[shape.channels()];
        for (int c = 0; c < gamma.length; c++) {
            gamma[c] = (float) r.nextDouble(0.5, 2);
            beta[c] = (float) r.nextDouble(-1, 1);
        }
        return new float[][] {x, dy, gamma, beta};
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void anyThreadCountGivesTheSameBitsAndTheyMatchTheOracle(Implementation impl) {
        long seed = 1;
        for (TensorShape shape : shapes()) {
            float[][] d = data(shape, seed++);
            float[] x = d[0];
            Results one = Results.of(BatchNorm.of(impl), shape, x, d[1], d[2], d[3]);
            for (int threads : THREADS) {
                Results.of(BatchNorm.of(impl).withThreads(threads), shape, x, d[1], d[2], d[3])
                        .assertSame(one, impl + " " + shape + " on " + threads + " threads");
            }
            // The pieces merged in order are right, not only repeatable.
            int channels = shape.channels();
            ChannelStatistics s = new ChannelStatistics(channels);
            float[] y = new float[x.length];
            float[] saveMean = new float[channels];
            float[] saveInvStd = new float[channels];
            BatchNorm bn = BatchNorm.of(impl).withThreads(2);
            Calls.forwardTraining(bn, shape, x, 0, y, 0, d[2], d[3], 1e-5f, Activation.IDENTITY, s, saveMean, saveInvStd);
            Oracle.Statistics o = Oracle.statistics(shape, x, 0);
            Tolerance.assertStatistics(o, s, impl + " " + shape);
            Tolerance.assertNormalized(shape, 0, x, y, o.mean(), o.variance(), d[2], d[3], 1e-5, false, o,
                    impl + " " + shape);
            float[] dx = new float[x.length];
            float[] dgamma = new float[channels];
            float[] dbeta = new float[channels];
            Calls.backward(bn, shape, x, 0, d[1], 0, null, 0, dx, 0, d[2], saveMean, saveInvStd, true, Activation.IDENTITY,
                    dgamma, dbeta);
            Oracle.Gradients g = Oracle.backward(shape, x, 0, d[1], 0, null, 0, d[2], Oracle.toDouble(saveMean),
                    Oracle.toDouble(saveInvStd), true);
            Tolerance.assertGradients(shape, 0, x, d[1], d[2], true, null, saveMean, saveInvStd, g, dx, dgamma, dbeta);
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void sharedSegmentsOnSeveralThreadsGiveTheArraysBits(Implementation impl) {
        BatchNorm bn = BatchNorm.of(impl).withThreads(3);
        for (TensorShape shape : List.of(TensorShape.nchw(8, 64, 28, 28),
                TensorShape.of(Layout.CHANNELS_LAST, 16, 61, 28, 28))) {
            float[][] d = data(shape, 42);
            int count = d[0].length;
            float[] y = new float[count];
            Calls.forwardTraining(bn, shape, d[0], 0, y, 0, d[2], d[3], 1e-5f, Activation.IDENTITY, null, null, null);
            // Shared: the workers take part. Confined: the calling thread alone, same bits.
            for (Arena arena : new Arena[] {Arena.ofShared(), Arena.ofConfined()}) {
                try (arena) {
                    MemorySegment xs = arena.allocate((long) count * Float.BYTES);
                    MemorySegment ys = arena.allocate((long) count * Float.BYTES);
                    MemorySegment.copy(d[0], 0, xs, ValueLayout.JAVA_FLOAT, 0, count);
                    Calls.forwardTraining(bn, shape, xs, ys, d[2], d[3], 1e-5f, Activation.IDENTITY, null, null, null);
                    assertArrayEquals(bits(y), bits(ys.toArray(ValueLayout.JAVA_FLOAT)), impl + " " + shape);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void callersSharingOnePoolGetTheSameBits(Implementation impl) throws Exception {
        // Four callers on a two-thread pool: most find it busy and run alone; all agree.
        BatchNorm bn = BatchNorm.of(impl).withThreads(2);
        TensorShape shape = TensorShape.of(Layout.CHANNELS_LAST, 16, 61, 28, 28);
        float[][] d = data(shape, 7);
        float[] expected = new float[d[0].length];
        Calls.forwardTraining(BatchNorm.of(impl), shape, d[0], 0, expected, 0, d[2], d[3], 1e-5f, Activation.IDENTITY,
                null, null, null);
        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            List<Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                Callable<Integer> call = () -> {
                    float[] y = new float[d[0].length];
                    for (int i = 0; i < 10; i++) {
                        Calls.forwardTraining(bn, shape, d[0], 0, y, 0, d[2], d[3], 1e-5f, Activation.IDENTITY, null, null,
                                null);
                        assertArrayEquals(bits(expected), bits(y));
                    }
                    return 10;
                };
                done.add(callers.submit(call));
            }
            for (Future<Integer> f : done) {
                assertEquals(10, f.get());
            }
        } finally {
            callers.shutdown();
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void aLayerOnSeveralThreadsTrainsToTheSameBits(Implementation impl) {
        TensorShape shape = TensorShape.of(Layout.CHANNELS_LAST, 16, 61, 28, 28);
        float[][] d = data(shape, 3);
        List<int[]> seen = new ArrayList<>();
        for (int threads : new int[] {1, 3}) {
            BatchNorm2d bn = new BatchNorm2d(61);
            bn.setKernels(BatchNorm.of(impl).withThreads(threads));
            float[] y = new float[d[0].length];
            float[] dx = new float[d[0].length];
            for (int step = 0; step < 3; step++) {
                bn.forward(shape, d[0], y);
                bn.backward(shape, d[0], y, d[1], dx);
                for (int c = 0; c < 61; c++) {
                    bn.weight()[c] -= 0.1f * bn.weightGrad()[c];
                    bn.bias()[c] -= 0.1f * bn.biasGrad()[c];
                }
                bn.zeroGrad();
            }
            bn.eval();
            bn.forward(shape, d[0], y);
            seen.add(bits(y));
            seen.add(bits(dx));
            seen.add(bits(bn.runningMean()));
            seen.add(bits(bn.runningVar()));
        }
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(seen.get(i), seen.get(i + 4), impl + " result " + i);
        }
    }
}
