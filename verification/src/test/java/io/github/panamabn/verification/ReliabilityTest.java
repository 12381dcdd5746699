package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.BatchNormOptions;
import io.github.panamabn.nn.norm.NonFiniteBatchException;
import io.github.panamabn.nn.norm.NonFinitePolicy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The guarantees of the README's reliability section, one test each. */
class ReliabilityTest {
    private static final TensorShape NCHW = TensorShape.nchw(4, 6, 5, 7);

    private static int channelOf(TensorShape shape, int index) {
        return (int) (shape.isChannelInnermost() ? index % shape.channels() : index / shape.spatialSize() % shape.channels());
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void nonFiniteValuesStayInTheirOwnChannel(Implementation impl) {
        BatchNorm bn = BatchNorm.of(impl);
        Property.forAll("non-finite-channel-" + impl, 120, TensorCase.generator(20_000, DataFamily.GAUSSIAN), tc -> {
            TensorShape shape = tc.shape();
            SplittableRandom r = new SplittableRandom(tc.seed());
            float[] clean = tc.data();
            float[] dirty = clean.clone();
            int poisoned = r.nextInt(shape.channels());
            float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
            int i = tc.offset() + (int) shape.index(r.nextInt((int) shape.batch()), poisoned, r.nextLong(shape.spatialSize()));
            dirty[i] = bad[r.nextInt(3)];
            float[] yClean = new float[clean.length];
            float[] yDirty = new float[clean.length];
            Calls.forwardTraining(bn, shape, clean, tc.offset(), yClean, tc.offset(), null, null, 1e-5f, Activation.IDENTITY,
                    null, null, null);
            Calls.forwardTraining(bn, shape, dirty, tc.offset(), yDirty, tc.offset(), null, null, 1e-5f, Activation.IDENTITY,
                    null, null, null);
            float[] dx = new float[clean.length];
            float[] dxDirty = new float[clean.length];
            float[] mean = new float[shape.channels()];
            float[] inv = new float[shape.channels()];
            java.util.Arrays.fill(inv, 1f);
            Calls.backward(bn, shape, clean, tc.offset(), clean, tc.offset(), null, 0, dx, tc.offset(), null, mean, inv, true,
                    Activation.IDENTITY, null, null);
            Calls.backward(bn, shape, clean, tc.offset(), dirty, tc.offset(), null, 0, dxDirty, tc.offset(), null, mean, inv, true,
                    Activation.IDENTITY, null, null);
            for (int k = tc.offset(); k < clean.length; k++) {
                int c = channelOf(shape, k - tc.offset());
                if (c == poisoned) {
                    assertTrue(!Float.isFinite(yDirty[k]) || k != i && Float.isNaN(yDirty[k]) || !Float.isFinite(yDirty[i]),
                            "the poisoned channel is not finite");
                } else {
                    assertEquals(Float.floatToIntBits(yClean[k]), Float.floatToIntBits(yDirty[k]), "forward, channel " + c);
                    assertEquals(Float.floatToIntBits(dx[k]), Float.floatToIntBits(dxDirty[k]), "backward, channel " + c);
                }
            }
        });
    }

    private static float[] batchWithNaN(TensorShape shape) {
        float[] x = BatchNormLayerTest.batch(shape, 5);
        x[17] = Float.NaN;
        return x;
    }

    @Test
    void nonFiniteBatchThrowsAndLeavesEverythingUntouched() {
        BatchNorm2d bn = new BatchNorm2d(6);
        float[] y = new float[(int) NCHW.elementCount()];
        bn.forward(NCHW, BatchNormLayerTest.batch(NCHW, 1), y);
        float[] mean = bn.runningMean().clone();
        float[] var = bn.runningVar().clone();
        java.util.Arrays.fill(y, 42f);
        Throwable t = assertThrows(NonFiniteBatchException.class, () -> bn.forward(NCHW, batchWithNaN(NCHW), y));
        assertTrue(t.getMessage().contains("not finite in channel 0"), t.getMessage());
        assertArrayEquals(mean, bn.runningMean());
        assertArrayEquals(var, bn.runningVar());
        assertEquals(1, bn.numBatchesTracked());
        for (float v : y) {
            assertEquals(42f, v);
        }
    }

    @Test
    void skipPolicyNormalizesButNeverPoisonsRunningStatistics() {
        BatchNorm2d bn = new BatchNorm2d(6);
        bn.setNonFinitePolicy(NonFinitePolicy.SKIP_UPDATE);
        float[] y = new float[(int) NCHW.elementCount()];
        bn.forward(NCHW, BatchNormLayerTest.batch(NCHW, 1), y);
        float[] mean = bn.runningMean().clone();
        float[] var = bn.runningVar().clone();
        bn.forward(NCHW, batchWithNaN(NCHW), y);
        assertArrayEquals(mean, bn.runningMean());
        assertArrayEquals(var, bn.runningVar());
        assertEquals(1, bn.numBatchesTracked());
        assertEquals(1, bn.skippedBatches());
        assertTrue(Float.isNaN(y[0]), "channel 0 carries the NaN");
        assertTrue(Float.isFinite(y[(int) NCHW.index(0, 1, 0)]), "channel 1 is clean");
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void hugeMagnitudesGiveCorrectFiniteResults(Implementation impl) {
        BatchNorm bn = BatchNorm.of(impl);
        for (Layout layout : Layout.values()) {
            for (double scale : new double[] {1e18, 1e25, 1e36}) {
                TensorShape shape = NCHW.withLayout(layout);
                SplittableRandom r = new SplittableRandom((long) Math.log10(scale));
                float[] x = new float[(int) shape.elementCount()];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (scale * (1 + DataFamily.gaussian(r)));
                }
                ChannelStatistics s = new ChannelStatistics(6);
                float[] y = new float[x.length];
                Calls.forwardTraining(bn, shape, x, 0, y, 0, null, null, 1e-5f, Activation.IDENTITY, s, null, null);
                Oracle.Statistics o = Oracle.statistics(shape, x, 0);
                double[] expected = Oracle.normalize(shape, x, 0, o.mean(), o.variance(), null, null, 1e-5, false);
                for (int c = 0; c < 6; c++) {
                    assertEquals(o.mean()[c], s.mean(c), 1e-6 * Math.abs(o.mean()[c]), impl + " " + layout + " mean " + scale);
                    assertEquals(o.variance()[c], s.variance(c), 1e-5 * o.variance()[c], impl + " " + layout + " var " + scale);
                }
                for (int i = 0; i < x.length; i++) {
                    assertEquals(expected[i], y[i], 1e-5 * (1 + Math.abs(expected[i])), impl + " " + layout + " y " + scale);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void valuesBeyondFloatRangeFromTheirMeanAreNormalizedInDouble(Implementation impl) {
        BatchNorm bn = BatchNorm.of(impl);
        for (Layout layout : Layout.values()) {
            for (boolean inPlace : new boolean[] {false, true}) {
                // Channel 1 holds +-3.3e38 around a mean of about -1.6e38: its largest value lies 5e38 from the
                // mean, more than a float holds, so x - mean cannot be taken in float. The others are ordinary.
                TensorShape shape = TensorShape.of(layout, 4, 11, 3, 5);
                SplittableRandom r = new SplittableRandom(11);
                float[] x = new float[(int) shape.elementCount()];
                for (long n = 0; n < 4; n++) {
                    for (int c = 0; c < 11; c++) {
                        for (long s = 0; s < 15; s++) {
                            x[(int) shape.index(n, c, s)] = c == 1
                                    ? (n == 0 && s == 0 ? 3.3e38f : -3.3e38f + (float) (s * 1e36))
                                    : (float) (c + DataFamily.gaussian(r));
                        }
                    }
                }
                float[] original = x.clone();
                float[] y = inPlace ? x : new float[x.length];
                float[] gamma = new float[11];
                float[] beta = new float[11];
                java.util.Arrays.fill(gamma, 0.5f);
                java.util.Arrays.fill(beta, 0.25f);
                Calls.forwardTraining(bn, shape, x, 0, y, 0, gamma, beta, 1e-5f, Activation.IDENTITY, null, null, null);
                Oracle.Statistics o = Oracle.statistics(shape, original, 0);
                double[] expected = Oracle.normalize(shape, original, 0, o.mean(), o.variance(), gamma, beta, 1e-5,
                        false);
                for (int i = 0; i < y.length; i++) {
                    assertTrue(Float.isFinite(y[i]), "element " + i + " is " + y[i]);
                    assertEquals(expected[i], y[i], 1e-5 * (1 + Math.abs(expected[i])),
                            impl + " " + layout + (inPlace ? " in place" : "") + " element " + i);
                }
            }
        }
        // Statistics alone are exact too, in double.
        TensorShape shape = TensorShape.nc(4, 1);
        float[] x = {3.3e38f, -3.3e38f, -3.3e38f, -3.3e38f};
        ChannelStatistics s = new ChannelStatistics(1);
        Calls.statistics(bn, shape, x, 0, s);
        Oracle.Statistics o = Oracle.statistics(shape, x, 0);
        assertEquals(o.mean()[0], s.mean(0), 1e-12 * Math.abs(o.mean()[0]));
        assertEquals(o.variance()[0], s.variance(0), 1e-12 * o.variance()[0]);
    }

    @Test
    void evalForwardFromEightThreadsIsIdenticalAndAllocatesNothing() throws Exception {
        BatchNorm2d bn = new BatchNorm2d(6);
        float[] y0 = new float[(int) NCHW.elementCount()];
        bn.forward(NCHW, BatchNormLayerTest.batch(NCHW, 3), y0);
        bn.eval();
        float[] x = BatchNormLayerTest.batch(NCHW, 4);
        float[] expected = new float[x.length];
        bn.forward(NCHW, x, expected);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long[] allocated = new long[8];
        boolean[] same = new boolean[8];
        Thread[] threads = new Thread[8];
        for (int t = 0; t < 8; t++) {
            int id = t;
            threads[t] = new Thread(() -> {
                float[] y = new float[x.length];
                for (int i = 0; i < 20_000; i++) {
                    bn.forward(NCHW, x, y);   // warm up: compiled code, per-thread workspace in place
                }
                // Rounds until one is clean: under load the JIT may not have compiled the loops yet, and code it
                // has not compiled boxes vectors. A forward that allocates on every call fails every round.
                boolean ok = true;
                long fewest = Long.MAX_VALUE;
                for (int round = 0; round < 10 && fewest >= 2_000; round++) {
                    long before = mx.getCurrentThreadAllocatedBytes();
                    for (int i = 0; i < 2_000; i++) {
                        bn.forward(NCHW, x, y);
                        ok &= java.util.Arrays.equals(y, expected);
                    }
                    fewest = Math.min(fewest, mx.getCurrentThreadAllocatedBytes() - before);
                }
                allocated[id] = fewest;
                same[id] = ok;
            });
            threads[t].start();
        }
        for (Thread t : threads) {
            t.join();
        }
        for (int t = 0; t < 8; t++) {
            assertTrue(same[t], "thread " + t + " saw a different result");
            // 2,000 calls: a single allocation per call would show as tens of kilobytes.
            assertTrue(allocated[t] < 2_000, "thread " + t + " allocated " + allocated[t] + " bytes in 2,000 calls, "
                    + "in its best round");
        }
    }

    @Test
    void concurrentTrainingIsDetected() throws Exception {
        BatchNorm2d bn = new BatchNorm2d(6);
        // One thread starts a training forward that takes tens of milliseconds; once it has started, this
        // thread calls too and must be refused. Retried only in case the first had not entered yet.
        TensorShape shape = TensorShape.nchw(64, 6, 200, 200);
        float[] x = BatchNormLayerTest.batch(shape, 8);
        float[] yLong = new float[x.length];
        float[] y = new float[x.length];
        int refused = 0;
        int succeeded = 0;
        for (int attempt = 0; attempt < 5 && refused == 0; attempt++) {
            CountDownLatch started = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread first = new Thread(() -> {
                started.countDown();
                try {
                    bn.forward(shape, x, yLong);
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            first.start();
            started.await();
            Thread.sleep(5);
            try {
                bn.forward(shape, x, y);
                succeeded++;
            } catch (IllegalStateException e) {
                assertTrue(e.getMessage().contains("from one thread at a time"), e.getMessage());
                refused++;
            }
            first.join();
            assertEquals(null, failure.get(), "the first caller is never disturbed");
            succeeded++;
        }
        assertTrue(refused > 0, "a call made while another thread trains the layer was not refused");
        assertEquals(succeeded, bn.numBatchesTracked(), "every call that was not refused updated once");
    }


    @Test
    void nativeMemoryIsNotKeptAliveAfterTheArenaCloses() throws Exception {
        WeakReference<Arena> ref = useAutoArena();
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            Thread.sleep(20);
        }
        assertTrue(ref.get() == null, "the library still references the arena of a finished call");
        // A closed arena's segment is refused, and the output stays as it was.
        Arena arena = Arena.ofConfined();
        MemorySegment x = arena.allocate(NCHW.elementCount() * 4);
        arena.close();
        float[] y = new float[(int) NCHW.elementCount()];
        MemorySegment out = MemorySegment.ofArray(y);
        assertThrows(IllegalStateException.class, () -> Calls.forwardTraining(BatchNorm.get(), NCHW, x, out, null, null, 1e-5f,
                Activation.IDENTITY, null, null, null));
    }

    private static WeakReference<Arena> useAutoArena() {
        Arena arena = Arena.ofAuto();
        MemorySegment x = arena.allocate(NCHW.elementCount() * 4);
        MemorySegment y = arena.allocate(NCHW.elementCount() * 4);
        Calls.forwardTraining(BatchNorm.get(), NCHW, x, y, null, null, 1e-5f, Activation.IDENTITY, new ChannelStatistics(6), null, null);
        Calls.backward(BatchNorm.get(), NCHW, x, y, null, y, null, new float[6], new float[6], true, Activation.IDENTITY, null, null);
        return new WeakReference<>(arena);
    }

    @Test
    void segmentsConfinedToAnotherThreadAreRefused() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(NCHW.elementCount() * 4);
            Throwable[] thrown = new Throwable[1];
            Thread t = new Thread(() -> {
                try {
                    Calls.statistics(BatchNorm.get(), NCHW, x, new ChannelStatistics(6));
                } catch (Throwable e) {
                    thrown[0] = e;
                }
            });
            t.start();
            t.join();
            assertTrue(thrown[0] instanceof IllegalStateException && thrown[0].getMessage().contains("confined"),
                    String.valueOf(thrown[0]));
        }
    }

    @Test
    void optionsRejectMomentumOutsideTheUnitInterval() {
        assertThrows(IllegalArgumentException.class, () -> BatchNormOptions.defaults().withMomentum(1.5f));
        assertThrows(IllegalArgumentException.class, () -> BatchNormOptions.defaults().withMomentum(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> BatchNormOptions.defaults().withEps(0f));
    }
}
