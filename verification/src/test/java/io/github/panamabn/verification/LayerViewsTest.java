package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.FrozenBatchNorm;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Layers on views: heap and off-heap, whole and windows, the same results as on arrays; exact lengths. */
class LayerViewsTest {
    private static final TensorShape SHAPE = TensorShape.of(Layout.CHANNELS_LAST, 3, 6, 5, 7);

    private static float[] data(int seed) {
        return new TensorCase(SHAPE, DataFamily.GAUSSIAN, seed, 0).data();
    }

    @Test
    void trainingOnSegmentsAndWindowsMatchesArrays() {
        float[] x = data(1);
        float[] dy = data(2);
        int n = x.length;
        BatchNorm2d onArrays = new BatchNorm2d(6);
        float[] y = new float[n];
        float[] dx = new float[n];
        onArrays.forward(SHAPE, x, y);
        onArrays.backward(SHAPE, x, y, dy, dx);

        BatchNorm2d onViews = new BatchNorm2d(6);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment xs = arena.allocate((long) n * Float.BYTES);
            MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, n);
            float[] big = new float[n + 20];
            TensorView yv = TensorView.of(SHAPE, big, 13);         // a window of a larger array
            MemorySegment dys = arena.allocate((long) (n + 4) * Float.BYTES);
            MemorySegment.copy(dy, 0, dys, ValueLayout.JAVA_FLOAT, 16, n);
            TensorView dyv = TensorView.of(SHAPE, dys, 16);
            TensorView dxv = TensorView.of(SHAPE, new float[n]);
            onViews.forward(TensorView.of(SHAPE, xs), yv);
            onViews.backward(TensorView.of(SHAPE, xs), yv, dyv, dxv);
            float[] yOut = new float[n];
            System.arraycopy(big, 13, yOut, 0, n);
            assertArrayEquals(y, yOut, "y on a window");
            assertArrayEquals(dx, dxv.array(), "dx");
        }
        assertArrayEquals(onArrays.runningMean(), onViews.runningMean());
        assertArrayEquals(onArrays.weightGrad(), onViews.weightGrad());
        assertArrayEquals(onArrays.biasGrad(), onViews.biasGrad());
    }

    @Test
    void servingOffHeapMatchesArrays() {
        BatchNorm2d bn = new BatchNorm2d(6);
        bn.forward(SHAPE, data(3), new float[data(3).length]);
        bn.eval();
        float[] x = data(4);
        float[] expected = new float[x.length];
        bn.forward(SHAPE, x, expected);
        FrozenBatchNorm frozen = bn.freeze();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate((long) x.length * Float.BYTES);
            MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
            TensorView v = TensorView.of(SHAPE, s);
            frozen.forward(v, v);
            assertArrayEquals(expected, s.toArray(ValueLayout.JAVA_FLOAT));
            MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
            bn.forward(v, v);
            assertArrayEquals(expected, s.toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @Test
    void arraysMustBeTheShapesLengthAndErrorsNameTheLayer() {
        BatchNorm2d bn = new BatchNorm2d(6);
        bn.setName("layer1.0.bn1");
        int n = (int) SHAPE.elementCount();
        float[] y = new float[n];
        Throwable t = assertThrows(IllegalArgumentException.class, () -> bn.forward(SHAPE, new float[n + 1], y));
        assertTrue(t.getMessage().startsWith("layer1.0.bn1: BatchNorm2d(6, ") && t.getMessage().contains("x has length "
                + (n + 1)), t.getMessage());
        t = assertThrows(IllegalArgumentException.class, () -> bn.forward(SHAPE, data(1), new float[n - 1]));
        assertTrue(t.getMessage().contains("y has length"), t.getMessage());
        t = assertThrows(IllegalArgumentException.class, () -> bn.forward(TensorShape.nchw(3, 5, 5, 7),
                new float[525], new float[525]));
        assertTrue(t.getMessage().startsWith("layer1.0.bn1: BatchNorm2d(6, ") && t.getMessage().contains("expects 6"),
                t.getMessage());
        t = assertThrows(IllegalArgumentException.class, () -> bn.forward(TensorView.of(SHAPE, data(1)),
                TensorView.of(SHAPE.withLayout(Layout.CHANNELS_FIRST), y)));
        assertTrue(t.getMessage().contains("y has shape"), t.getMessage());
        assertEquals(0, bn.numBatchesTracked(), "refused calls changed nothing");
        for (float v : y) {
            assertEquals(0f, v);
        }
        float[] x = data(1);
        TensorView xv = TensorView.of(SHAPE, x);
        t = assertThrows(IllegalArgumentException.class, () -> bn.forward(xv, TensorView.of(SHAPE, x)));
        assertTrue(t.getMessage().contains("in-place"), t.getMessage());
    }
}
