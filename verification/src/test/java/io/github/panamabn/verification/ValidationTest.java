package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
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

    private void train(TensorShape shape, float[] in, int xOff, float[] out, int yOff, float[] gamma, float eps,
                       float[] mean) {
        bn.forwardTraining(shape, in, xOff, out, yOff, gamma, null, eps, Activation.IDENTITY, null, mean, saveInvStd);
    }

    @Test
    void trainingRejectsBadArgumentsBeforeWriting() {
        assertRejectedUntouched(NullPointerException.class, "x", () -> train(SHAPE, null, 0, y, 0, null, 1e-5f, saveMean));
        assertRejectedUntouched(IndexOutOfBoundsException.class, "y", () -> train(SHAPE, x, 0, y, 1, null, 1e-5f, saveMean));
        assertRejectedUntouched(IndexOutOfBoundsException.class, "x", () -> train(SHAPE, x, -1, y, 0, null, 1e-5f, saveMean));
        assertRejectedUntouched(IllegalArgumentException.class, "gamma",
                () -> train(SHAPE, x, 0, y, 0, new float[2], 1e-5f, saveMean));
        assertRejectedUntouched(IllegalArgumentException.class, "eps", () -> train(SHAPE, x, 0, y, 0, ones, 0f, saveMean));
        assertRejectedUntouched(IllegalArgumentException.class, "eps",
                () -> train(SHAPE, x, 0, y, 0, ones, Float.NaN, saveMean));
        assertRejectedUntouched(IllegalArgumentException.class, "saveMean",
                () -> train(SHAPE, x, 0, y, 0, ones, 1e-5f, new float[4]));
        assertRejectedUntouched(IllegalArgumentException.class, "stats",
                () -> bn.forwardTraining(SHAPE, x, 0, y, 0, null, null, 1e-5f, Activation.IDENTITY,
                        new ChannelStatistics(4), saveMean, saveInvStd));
    }

    @Test
    void partialOverlapIsRejectedButInPlaceIsAllowed() {
        float[] both = filled(130);
        System.arraycopy(x, 0, both, 0, 120);
        float[] before = both.clone();
        Throwable t = assertThrows(IllegalArgumentException.class, () -> train(SHAPE, both, 0, both, 5, null, 1e-5f, null));
        assertTrue(t.getMessage().contains("overlaps"), t.getMessage());
        assertArrayEquals(before, both);
        train(SHAPE, both, 0, both, 0, null, 1e-5f, null);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(200 * Float.BYTES);
            assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(SHAPE, seg, seg.asSlice(8),
                    null, null, 1e-5f, Activation.IDENTITY, null, null, null));
            bn.forwardTraining(SHAPE, seg, seg, null, null, 1e-5f, Activation.IDENTITY, null, null, null);
            MemorySegment heap = MemorySegment.ofArray(both);
            assertThrows(IllegalArgumentException.class, () -> bn.forwardTraining(SHAPE, heap.asReadOnly(),
                    heap.asSlice(4), null, null, 1e-5f, Activation.IDENTITY, null, null, null));
        }
    }

    @Test
    void segmentsThatCannotBeWrittenOrReadAreRejected() {
        MemorySegment readOnly = MemorySegment.ofArray(new float[120]).asReadOnly();
        MemorySegment in = MemorySegment.ofArray(x);
        Throwable t = assertThrows(IllegalArgumentException.class, () -> bn.forwardInference(SHAPE, in, readOnly,
                ones, ones, null, null, 1e-5f, Activation.IDENTITY));
        assertTrue(t.getMessage().contains("read-only"), t.getMessage());
        MemorySegment small = MemorySegment.ofArray(new float[119]);
        assertThrows(IndexOutOfBoundsException.class, () -> bn.forwardInference(SHAPE, in, small,
                ones, ones, null, null, 1e-5f, Activation.IDENTITY));
        Arena arena = Arena.ofConfined();
        MemorySegment closed = arena.allocate(480);
        arena.close();
        t = assertThrows(IllegalStateException.class, () -> bn.statistics(SHAPE, closed, new ChannelStatistics(3)));
        assertTrue(t.getMessage().contains("closed"), t.getMessage());
    }

    @Test
    void inferenceRejectsNegativeVariance() {
        assertRejectedUntouched(IllegalArgumentException.class, "var[1]", () -> bn.forwardInference(SHAPE, x, 0, y, 0,
                ones, new float[] {1, -1, 1}, null, null, 1e-5f, Activation.IDENTITY));
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
