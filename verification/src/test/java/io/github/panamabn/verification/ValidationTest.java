package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad arguments: a clear exception naming the argument, and every output left as it was. */
class ValidationTest {
    private static final TensorShape SHAPE = TensorShape.nchw(2, 3, 4, 5);
    private static final float SENTINEL = -12345.5f;
    private final BatchNorm bn = BatchNorm.get();
    private final float[] x = new TensorCase(SHAPE, DataFamily.GAUSSIAN, 1, 0).data();
    private final float[] y = filled(120);
    private final float[] saveMean = filled(3);
    private final float[] saveInvStd = filled(3);
    private final float[] ones = {1, 1, 1};

    private static float[] filled(int n) {
        float[] a = new float[n];
        Arrays.fill(a, SENTINEL);
        return a;
    }

    private void assertRejectedUntouched(Class<? extends Throwable> type, String mentions, Executable call) {
        Throwable t = assertThrows(type, call);
        assertTrue(t.getMessage().contains(mentions), "message '" + t.getMessage() + "' should name " + mentions);
        assertArrayEquals(filled(120), y, "y was written");
        assertArrayEquals(filled(3), saveMean, "saveMean was written");
        assertArrayEquals(filled(3), saveInvStd, "saveInvStd was written");
    }

    private final NormConfig config = NormConfig.DEFAULT;
    private final SavedStatistics save = SavedStatistics.of(saveMean, saveInvStd);

    private void train(TensorView in, TensorView out, Affine affine, SavedStatistics saved) {
        bn.forwardTraining(config, in, out, affine, saved);
    }

    @Test
    void trainingRejectsBadArgumentsBeforeWriting() {
        TensorView xv = TensorView.of(SHAPE, x);
        TensorView yv = TensorView.of(SHAPE, y);
        assertRejectedUntouched(NullPointerException.class, "x", () -> train(null, yv, Affine.none(), save));
        assertRejectedUntouched(NullPointerException.class, "affine", () -> train(xv, yv, null, save));
        assertRejectedUntouched(NullPointerException.class, "save", () -> train(xv, yv, Affine.none(), null));
        assertRejectedUntouched(IllegalArgumentException.class, "affine.weight",
                () -> train(xv, yv, Affine.weightOnly(new float[2]), save));
        assertRejectedUntouched(IllegalArgumentException.class, "save",
                () -> train(xv, yv, Affine.none(), new SavedStatistics(4)));
        assertRejectedUntouched(IllegalArgumentException.class, "stats",
                () -> bn.forwardTraining(config, xv, yv, Affine.none(), save, new ChannelStatistics(4)));
        assertRejectedUntouched(IllegalArgumentException.class, "y has shape",
                () -> train(xv, TensorView.of(TensorShape.nchw(2, 3, 5, 4), y), Affine.none(), save));
        assertRejectedUntouched(IllegalArgumentException.class, "y has shape",
                () -> train(xv, TensorView.of(SHAPE.withLayout(Layout.CHANNELS_LAST), y), Affine.none(), save));
        assertRejectedUntouched(NullPointerException.class, "config",
                () -> bn.forwardTraining(null, xv, yv, Affine.none(), save));
    }

    @Test
    void parameterObjectsRejectBadValuesWhenBuilt() {
        Throwable t = assertThrows(IllegalArgumentException.class, () -> NormConfig.of(0f));
        assertTrue(t.getMessage().contains("eps"), t.getMessage());
        assertThrows(IllegalArgumentException.class, () -> NormConfig.of(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> NormConfig.of(Float.POSITIVE_INFINITY));
        assertThrows(NullPointerException.class, () -> NormConfig.DEFAULT.withActivation(null));
        t = assertThrows(IllegalArgumentException.class, () -> Affine.of(new float[3], new float[2]));
        assertTrue(t.getMessage().contains("weight and bias"), t.getMessage());
        assertThrows(NullPointerException.class, () -> Affine.of(null, new float[2]));
        assertThrows(IllegalStateException.class, () -> Affine.none().weight());
        assertThrows(IllegalArgumentException.class, () -> SavedStatistics.of(new float[3], new float[2]));
        assertThrows(IllegalArgumentException.class, () -> RunningStatistics.of(new float[0], new float[0]));
        SavedStatistics s = SavedStatistics.of(saveMean, saveInvStd);
        t = assertThrows(IllegalArgumentException.class,
                () -> s.setFromRunning(RunningStatistics.of(ones, new float[] {1, Float.NaN, 1}), 1e-5f));
        assertTrue(t.getMessage().contains("var[1]"), t.getMessage());
        assertArrayEquals(filled(3), saveMean, "setFromRunning wrote before failing");
    }

    @Test
    void viewsCheckLengthsOffsetsAndShapes() {
        Throwable t = assertThrows(IllegalArgumentException.class, () -> TensorView.of(SHAPE, new float[121]));
        assertTrue(t.getMessage().contains("length 121") && t.getMessage().contains("offset"), t.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TensorView.of(SHAPE, new float[119]));
        TensorView window = TensorView.of(SHAPE, new float[130], 10);
        assertEquals(10, window.offset());
        assertThrows(IndexOutOfBoundsException.class, () -> TensorView.of(SHAPE, new float[130], 11));
        assertThrows(IndexOutOfBoundsException.class, () -> TensorView.of(SHAPE, new float[130], -1));
        MemorySegment seg = MemorySegment.ofArray(new float[130]);
        t = assertThrows(IllegalArgumentException.class, () -> TensorView.of(SHAPE, seg, 2));
        assertTrue(t.getMessage().contains("multiple of 4"), t.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TensorView.of(SHAPE, seg));
        assertThrows(IndexOutOfBoundsException.class, () -> TensorView.of(SHAPE, seg, 44));
        assertEquals(10, TensorView.of(SHAPE, seg, 40).offset());
        // Reshaping a whole view keeps the exact-length rule; a window only needs to fit.
        TensorView whole = TensorView.of(SHAPE, new float[120]);
        assertThrows(IllegalArgumentException.class, () -> whole.reshape(TensorShape.nchw(1, 3, 4, 5)));
        assertEquals(TensorShape.nc(40, 3), whole.reshape(TensorShape.nc(40, 3)).shape());
        assertEquals(TensorShape.nchw(1, 3, 4, 5), window.reshape(TensorShape.nchw(1, 3, 4, 5)).shape());
        assertThrows(IllegalStateException.class, whole::segment);
    }

    @Test
    void reluBackwardNeedsTheForwardOutput() {
        TensorView xv = TensorView.of(SHAPE, x);
        TensorView dy = TensorView.of(SHAPE, x.clone());
        TensorView dx = TensorView.of(SHAPE, y);
        Throwable t = assertThrows(IllegalArgumentException.class, () -> bn.backward(
                config.withActivation(Activation.RELU), GradientMode.BATCH_STATISTICS, SavedStatistics.of(ones, ones),
                xv, dy, dx, Affine.none(), Affine.none()));
        assertTrue(t.getMessage().contains("needs the forward's output y"), t.getMessage());
        assertArrayEquals(filled(120), y, "dx was written");
        assertThrows(NullPointerException.class, () -> bn.backward(config, null, SavedStatistics.of(ones, ones), xv,
                dy, dx, Affine.none(), Affine.none()));
        assertArrayEquals(filled(120), y, "dx was written");
    }

    @Test
    void partialOverlapIsRejectedButInPlaceIsAllowed() {
        float[] both = filled(130);
        System.arraycopy(x, 0, both, 0, 120);
        float[] before = both.clone();
        Throwable t = assertThrows(IllegalArgumentException.class,
                () -> train(TensorView.of(SHAPE, both, 0), TensorView.of(SHAPE, both, 5), Affine.none(), save));
        assertTrue(t.getMessage().contains("overlaps"), t.getMessage());
        assertArrayEquals(before, both);
        bn.forwardTraining(config, TensorView.of(SHAPE, both, 0), TensorView.of(SHAPE, both, 0), Affine.none());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(300 * Float.BYTES);
            assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(config, TensorView.of(SHAPE, seg, 0),
                    TensorView.of(SHAPE, seg, 8), Affine.none()));
            assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(config, TensorView.of(SHAPE, seg, 4),
                    TensorView.of(SHAPE, seg.asSlice(8), 0), Affine.none()));
            bn.forwardTraining(config, TensorView.of(SHAPE, seg, 0), TensorView.of(SHAPE, seg, 0), Affine.none());
            bn.forwardTraining(config, TensorView.of(SHAPE, seg, 0), TensorView.of(SHAPE, seg, 480), Affine.none());
            MemorySegment heap = MemorySegment.ofArray(both);
            assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(config,
                    TensorView.of(SHAPE, heap.asReadOnly(), 0), TensorView.of(SHAPE, heap, 4), Affine.none()));
            // An array and a segment over the same array: compared as the memory they are.
            float[] before2 = both.clone();
            t = assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(config,
                    TensorView.of(SHAPE, both, 0), TensorView.of(SHAPE, heap, 8), Affine.none()));
            assertTrue(t.getMessage().contains("y overlaps x"), t.getMessage());
            assertArrayEquals(before2, both);
            bn.forwardTraining(config, TensorView.of(SHAPE, both, 2), TensorView.of(SHAPE, heap, 8), Affine.none());
        }
    }

    @Test
    void segmentsThatCannotBeWrittenOrReadAreRejected() {
        RunningStatistics running = RunningStatistics.of(ones, ones);
        TensorView readOnly = TensorView.of(SHAPE, MemorySegment.ofArray(new float[120]).asReadOnly());
        TensorView in = TensorView.of(SHAPE, MemorySegment.ofArray(x));
        Throwable t = assertThrows(IllegalArgumentException.class,
                () -> bn.forwardInference(config, running, in, readOnly, Affine.none()));
        assertTrue(t.getMessage().contains("read-only"), t.getMessage());
        Arena arena = Arena.ofConfined();
        TensorView closed = TensorView.of(SHAPE, arena.allocate(480));
        arena.close();
        t = assertThrows(IllegalStateException.class, () -> bn.statistics(closed, new ChannelStatistics(3)));
        assertTrue(t.getMessage().contains("closed"), t.getMessage());
    }

    @Test
    void inferenceRejectsNegativeVariance() {
        assertRejectedUntouched(IllegalArgumentException.class, "var[1]", () -> bn.forwardInference(config,
                RunningStatistics.of(ones, new float[] {1, -1, 1}), TensorView.of(SHAPE, x), TensorView.of(SHAPE, y),
                Affine.none()));
        assertRejectedUntouched(IllegalArgumentException.class, "statistics.mean", () -> bn.forwardInference(config,
                RunningStatistics.of(new float[4], new float[4]), TensorView.of(SHAPE, x), TensorView.of(SHAPE, y),
                Affine.none()));
    }

    @Test
    void shapesRejectNonPositiveAndOverflowingDimensions() {
        assertThrows(IllegalArgumentException.class, () -> TensorShape.nchw(0, 3, 4, 4));
        assertThrows(IllegalArgumentException.class, () -> TensorShape.nchw(2, 3, -4, 4));
        Throwable t = assertThrows(IllegalArgumentException.class,
                () -> TensorShape.nchw(1L << 40, 1 << 20, 1L << 20, 1));
        assertTrue(t.getMessage().contains("more elements than a long"), t.getMessage());
    }
}
