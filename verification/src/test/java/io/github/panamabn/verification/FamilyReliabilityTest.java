package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The per-sample norms' promises besides accuracy: the same bits on any number of threads and on
 * native memory as on arrays, nothing allocated per call once warm, and bad arguments refused with
 * a message before anything is written.
 */
class FamilyReliabilityTest {
    /** Everything a forward and backward of one norm produce, as bits. */
    private interface Run {
        List<float[]> run(int threads, boolean segments);
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (DataFamily.gaussian(r) * 3 + 1);
        }
        return v;
    }

    private static TensorView view(TensorShape shape, float[] data, boolean segments, Arena arena) {
        if (!segments) {
            return TensorView.of(shape, data);
        }
        MemorySegment s = arena.allocate((long) data.length * Float.BYTES, 64);
        MemorySegment.copy(data, 0, s, ValueLayout.JAVA_FLOAT, 0, data.length);
        return TensorView.of(shape, s);
    }

    private static float[] read(TensorView v) {
        return v.isArray() ? v.array().clone() : v.segment().toArray(ValueLayout.JAVA_FLOAT);
    }

    private static List<float[]> layer(Implementation impl, TensorShape shape, int dims, boolean rms, int threads,
                                       boolean segments) {
        int count = (int) shape.elementCount();
        int features = (int) LayerNorm.features(shape, dims);
        int rows = count / features;
        float[] w = random(features, 3);
        float[] b = random(features, 4);
        try (Arena arena = Arena.ofShared()) {
            TensorView x = view(shape, random(count, 1), segments, arena);
            TensorView dy = view(shape, random(count, 2), segments, arena);
            TensorView y = view(shape, new float[count], segments, arena);
            TensorView dx = view(shape, new float[count], segments, arena);
            SavedStatistics save = new SavedStatistics(rows);
            float[] dw = new float[features];
            float[] db = new float[features];
            if (rms) {
                RmsNorm k = RmsNorm.of(impl).withThreads(threads);
                k.forward(NormConfig.DEFAULT, dims, x, y, Affine.weightOnly(w), save);
                k.backward(NormConfig.DEFAULT, dims, save, x, dy, dx, Affine.weightOnly(w), Affine.weightOnly(dw));
            } else {
                LayerNorm k = LayerNorm.of(impl).withThreads(threads);
                k.forward(NormConfig.DEFAULT, dims, x, y, Affine.of(w, b), save);
                k.backward(NormConfig.DEFAULT, dims, save, x, dy, dx, Affine.weightOnly(w), Affine.of(dw, db));
                // the parameter gradients alone (another task cut) are the backward's bits
                float[] dw2 = new float[features];
                float[] db2 = new float[features];
                k.parameterGradients(NormConfig.DEFAULT, dims, save, x, dy, Affine.of(dw2, db2));
                assertBitsEqual(List.of(dw, db), List.of(dw2, db2), "parameter gradients alone, " + threads
                        + " threads");
            }
            return List.of(read(y), read(dx), save.mean().clone(), save.invStd().clone(), dw, db);
        }
    }

    /** The fused residual add: h and y, the saved statistics. */
    private static List<float[]> residual(Implementation impl, TensorShape shape, boolean rms, int threads,
                                          boolean segments) {
        int count = (int) shape.elementCount();
        int features = (int) LayerNorm.features(shape, 1);
        float[] w = random(features, 3);
        float[] b = random(features, 4);
        try (Arena arena = Arena.ofShared()) {
            TensorView x = view(shape, random(count, 1), segments, arena);
            TensorView r = view(shape, random(count, 5), segments, arena);
            TensorView h = view(shape, new float[count], segments, arena);
            TensorView y = view(shape, new float[count], segments, arena);
            SavedStatistics save = new SavedStatistics(count / features);
            if (rms) {
                RmsNorm.of(impl).withThreads(threads).forwardResidual(NormConfig.DEFAULT, 1, x, r, h, y,
                        Affine.weightOnly(w), save);
            } else {
                LayerNorm.of(impl).withThreads(threads).forwardResidual(NormConfig.DEFAULT, 1, x, r, h, y,
                        Affine.of(w, b), save);
            }
            return List.of(read(h), read(y), save.mean().clone(), save.invStd().clone());
        }
    }

    private static List<float[]> group(Implementation impl, TensorShape shape, int groups, int threads,
                                       boolean segments) {
        int count = (int) shape.elementCount();
        int c = shape.channels();
        float[] w = random(c, 3);
        float[] b = random(c, 4);
        try (Arena arena = Arena.ofShared()) {
            TensorView x = view(shape, random(count, 1), segments, arena);
            TensorView dy = view(shape, random(count, 2), segments, arena);
            TensorView y = view(shape, new float[count], segments, arena);
            TensorView dx = view(shape, new float[count], segments, arena);
            SavedStatistics save = new SavedStatistics(GroupNorm.units(shape, groups));
            float[] dw = new float[c];
            float[] db = new float[c];
            GroupNorm k = GroupNorm.of(impl).withThreads(threads);
            k.forward(NormConfig.DEFAULT, groups, x, y, Affine.of(w, b), save);
            k.backward(NormConfig.DEFAULT, groups, save, x, dy, dx, Affine.weightOnly(w), Affine.of(dw, db));
            return List.of(read(y), read(dx), save.mean().clone(), save.invStd().clone(), dw, db);
        }
    }

    private static List<Run> runs(Implementation impl) {
        List<Run> runs = new ArrayList<>();
        runs.add((t, s) -> layer(impl, TensorShape.ncl(4, 61, 1031), 1, false, t, s));      // many rows, lane tails
        runs.add((t, s) -> layer(impl, TensorShape.nchw(3, 16, 61, 63), 3, false, t, s));  // few long rows
        runs.add((t, s) -> layer(impl, TensorShape.nc(300, 1000), 1, true, t, s));
        runs.add((t, s) -> layer(impl, TensorShape.ncl(3, 2, 70_001), 2, false, t, s));  // rows past the row-range cut
        runs.add((t, s) -> residual(impl, TensorShape.ncl(3, 70, 1029), false, t, s));
        runs.add((t, s) -> residual(impl, TensorShape.nc(300, 1000), true, t, s));
        runs.add((t, s) -> group(impl, TensorShape.nchw(4, 64, 33, 31), 8, t, s));
        runs.add((t, s) -> group(impl, TensorShape.nhwc(3, 37, 35, 40), 5, t, s));        // stripes with a tail
        runs.add((t, s) -> group(impl, TensorShape.nhwc(2, 16, 16, 1030), 1030, t, s));   // instance, 3 channel blocks
        return runs;
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void sameBitsOnAnyThreadCountAndOnNativeMemory(Implementation impl) {
        for (Run run : runs(impl)) {
            List<float[]> one = run.run(1, false);
            for (int threads : new int[] {2, 3}) {
                assertBitsEqual(one, run.run(threads, false), threads + " threads");
            }
            assertBitsEqual(one, run.run(1, true), "native segments");
            assertBitsEqual(one, run.run(2, true), "native segments on 2 threads");
        }
    }

    private static void assertBitsEqual(List<float[]> expected, List<float[]> actual, String what) {
        for (int i = 0; i < expected.size(); i++) {
            float[] e = expected.get(i);
            float[] a = actual.get(i);
            assertEquals(e.length, a.length, what);
            for (int j = 0; j < e.length; j++) {
                if (Float.floatToRawIntBits(e[j]) != Float.floatToRawIntBits(a[j])) {
                    throw new AssertionError(what + ": result " + i + " element " + j + " is " + a[j] + ", one thread "
                            + "on arrays gives " + e[j]);
                }
            }
        }
    }

    /** Reused views and parameter objects: once warm, a call allocates nothing, on one thread or two. */
    @Test
    void callsAllocateNothingOnceWarm() {
        for (int threads : new int[] {1, 2}) {
            TensorShape rowsShape = TensorShape.nc(64, 4096);
            TensorShape image = TensorShape.nhwc(2, 32, 32, 64);
            TensorShape first = TensorShape.nchw(2, 64, 32, 32);
            float[] a = random((int) rowsShape.elementCount(), 1);
            float[] b = new float[a.length];
            float[] d = random(a.length, 2);
            float[] e = new float[a.length];
            float[] f = new float[a.length];
            float[] w = random(4096, 3);
            float[] dw = new float[4096];
            float[] db = new float[4096];
            float[] wc = random(64, 4);
            float[] dwc = new float[64];
            float[] dbc = new float[64];
            TensorView x = TensorView.of(rowsShape, a);
            TensorView y = TensorView.of(rowsShape, b);
            TensorView dy = TensorView.of(rowsShape, d);
            TensorView dx = TensorView.of(rowsShape, e);
            TensorView h = TensorView.of(rowsShape, f);
            TensorView xi = TensorView.of(image, a, 0);
            TensorView yi = TensorView.of(image, b, 0);
            TensorView dyi = TensorView.of(image, d, 0);
            TensorView dxi = TensorView.of(image, e, 0);
            TensorView xf = TensorView.of(first, a, 0);
            TensorView yf = TensorView.of(first, b, 0);
            SavedStatistics rowsSave = new SavedStatistics(64);
            SavedStatistics groupSave = new SavedStatistics(2 * 8);
            Affine affine = Affine.of(w, w);
            Affine grads = Affine.of(dw, db);
            Affine weight = Affine.weightOnly(w);
            Affine rmsGrad = Affine.weightOnly(dw);
            Affine channelAffine = Affine.of(wc, wc);
            Affine channelGrads = Affine.of(dwc, dbc);
            LayerNorm ln = LayerNorm.get().withThreads(threads);
            RmsNorm rms = RmsNorm.get().withThreads(threads);
            GroupNorm gn = GroupNorm.get().withThreads(threads);
            NormConfig config = NormConfig.DEFAULT;
            java.util.Map<String, Runnable> calls = new java.util.LinkedHashMap<>();
            calls.put("layer forward", () -> ln.forward(config, 1, x, y, affine, rowsSave));
            calls.put("layer backward", () -> ln.backward(config, 1, rowsSave, x, dy, dx, affine, grads));
            calls.put("rms forward", () -> rms.forward(config, 1, x, y, weight, rowsSave));
            calls.put("rms backward", () -> rms.backward(config, 1, rowsSave, x, dy, dx, weight, rmsGrad));
            calls.put("layer residual", () -> ln.forwardResidual(config, 1, x, dy, h, y, affine, rowsSave));
            calls.put("rms residual", () -> rms.forwardResidual(config, 1, x, dy, h, y, weight));
            calls.put("group forward NHWC", () -> gn.forward(config, 8, xi, yi, channelAffine, groupSave));
            calls.put("group backward NHWC", () -> gn.backward(config, 8, groupSave, xi, dyi, dxi, channelAffine,
                    channelGrads));
            calls.put("group forward NCHW", () -> gn.forward(config, 8, xf, yf, channelAffine, groupSave));
            for (int i = 0; i < 200; i++) {
                calls.values().forEach(Runnable::run);
            }
            List<String> allocating = AllocationCheck.allocating(calls);
            assertTrue(allocating.isEmpty(), "allocating per call once warm on " + threads + " threads: " + allocating);
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeAnythingIsWritten() {
        TensorShape shape = TensorShape.nchw(2, 6, 4, 4);
        float[] x = random((int) shape.elementCount(), 1);
        float[] y = new float[x.length];
        Arrays.fill(y, 7f);
        TensorView xv = TensorView.of(shape, x);
        TensorView yv = TensorView.of(shape, y);
        GroupNorm gn = GroupNorm.get();
        LayerNorm ln = LayerNorm.get();
        RmsNorm rms = RmsNorm.get();
        assertMessage(() -> gn.forward(NormConfig.DEFAULT, 4, xv, yv, Affine.none()), "groups", "divide");
        assertMessage(() -> gn.forward(NormConfig.DEFAULT, 3, xv, yv, Affine.weightOnly(new float[5])),
                "affine.weight", "per channel (6)");
        assertMessage(() -> gn.forward(NormConfig.DEFAULT, 3, xv, yv, Affine.none(), new SavedStatistics(3)),
                "save", "(sample, group) (6)");
        assertMessage(() -> ln.forward(NormConfig.DEFAULT, 5, xv, yv, Affine.none()), "normalizedDims", "[1, 4]");
        assertMessage(() -> ln.forward(NormConfig.DEFAULT, 2, xv, yv, Affine.weightOnly(new float[15])),
                "affine.weight", "per feature (16)");
        assertMessage(() -> ln.forward(NormConfig.DEFAULT, 2, xv, yv, Affine.biasOnly(new float[16])), "bias without");
        assertMessage(() -> ln.forward(NormConfig.DEFAULT.withActivation(Activation.RELU), 2, xv, yv, Affine.none()),
                "activation");
        assertMessage(() -> ln.forward(NormConfig.DEFAULT, 1, TensorView.of(shape.withLayout(
                io.github.panamabn.kernels.Layout.CHANNELS_LAST), x), yv, Affine.none()), "channels-last");
        assertMessage(() -> ln.forward(NormConfig.DEFAULT, 2, xv, TensorView.of(TensorShape.nchw(2, 6, 2, 8), y),
                Affine.none()), "y has shape");
        assertMessage(() -> rms.forward(NormConfig.DEFAULT, 1, xv, yv, Affine.of(new float[4], new float[4])), "no bias");
        assertMessage(() -> ln.backward(NormConfig.DEFAULT, 1, new SavedStatistics(5), xv, xv, yv, Affine.none(),
                Affine.none()), "saved", "per row (48)");
        float[] r = random(x.length, 2);
        float[] h = new float[x.length + 1];
        Arrays.fill(h, 5f);
        TensorView rv = TensorView.of(shape, r);
        TensorView hv = TensorView.of(shape, h, 0);
        assertMessage(() -> ln.forwardResidual(NormConfig.DEFAULT, 1, xv, rv, yv, yv, Affine.none()), "y", "same memory",
                "h");
        assertMessage(() -> rms.forwardResidual(NormConfig.DEFAULT, 1, xv, rv, TensorView.of(shape, h, 1), hv,
                Affine.none()), "y overlaps h partially");
        assertMessage(() -> ln.forwardResidual(NormConfig.DEFAULT, 1, xv, TensorView.of(TensorShape.nchw(2, 6, 2, 8), r),
                hv, yv, Affine.none()), "residual has shape");
        assertMessage(() -> rms.forwardResidual(NormConfig.DEFAULT, 1, xv, rv, hv, yv, Affine.of(new float[4],
                new float[4])), "no bias");
        assertMessage(() -> ln.forwardResidual(NormConfig.DEFAULT, 1, xv, null, hv, yv, Affine.none()), "residual");
        for (float v : y) {
            assertEquals(7f, v, "y was written by a refused call");
        }
        for (float v : h) {
            assertEquals(5f, v, "h was written by a refused call");
        }
    }

    private static void assertMessage(Runnable call, String... parts) {
        RuntimeException e = assertThrows(RuntimeException.class, call::run);
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' should mention '" + p + "'");
        }
    }
}
