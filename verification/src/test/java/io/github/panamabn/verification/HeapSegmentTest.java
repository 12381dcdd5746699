package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Heap segments over float[] run as the arrays they are; every other kind of segment runs as a segment.
 * Each kind, at element and byte offsets, read-only or not, mixed with native memory, gives the bits of
 * the same call on arrays: batch norm's kernels and the per-sample family's.
 */
class HeapSegmentTest {
    private static final TensorShape[] SHAPES = {TensorShape.nchw(3, 7, 5, 9), TensorShape.of(Layout.CHANNELS_LAST, 3, 37, 5, 3)};

    /** A segment of {@code data}'s floats, at some offset into its storage. */
    private static List<Function<float[], MemorySegment>> kinds(Arena arena) {
        return List.of(
                d -> MemorySegment.ofArray(d.clone()),
                d -> copy(MemorySegment.ofArray(new float[d.length + 3]).asSlice(12), d),
                d -> copy(MemorySegment.ofArray(new byte[d.length * 4 + 1]).asSlice(1), d),
                d -> copy(MemorySegment.ofArray(new int[d.length]), d),
                d -> copy(MemorySegment.ofArray(new long[d.length / 2 + 1]), d),
                d -> copy(MemorySegment.ofArray(new float[d.length + 1]).asSlice(2, d.length * 4L), d),
                d -> copy(arena.allocate(d.length * 4L + 1).asSlice(1), d));
    }

    private static MemorySegment copy(MemorySegment s, float[] d) {
        MemorySegment.copy(d, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, d.length);
        return s;
    }

    private static float[] floats(MemorySegment s, int n) {
        float[] out = new float[n];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, out, 0, n);
        return out;
    }

    @Test
    void everyKindOfSegmentGivesTheBitsOfArrays() {
        Random random = new Random(3);
        BatchNorm bn = BatchNorm.get();
        try (Arena arena = Arena.ofConfined()) {
            for (TensorShape shape : SHAPES) {
                int n = Math.toIntExact(shape.elementCount());
                int c = shape.channels();
                float[] x = new float[n];
                float[] dy = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (random.nextGaussian() * 3 + 1);
                    dy[i] = (float) random.nextGaussian();
                }
                float[] y = new float[n];
                float[] mean = new float[c];
                float[] invStd = new float[c];
                Calls.forwardTraining(bn, shape, x, 0, y, 0, null, null, 1e-5f, Activation.RELU, null, mean, invStd);
                float[] dx = new float[n];
                Calls.backward(bn, shape, x, 0, dy, 0, y, 0, dx, 0, null, mean, invStd, true, Activation.RELU, null, null);
                for (Function<float[], MemorySegment> in : kinds(arena)) {
                    for (Function<float[], MemorySegment> out : kinds(arena)) {
                        MemorySegment xs = in.apply(x);
                        MemorySegment ys = out.apply(new float[n]);
                        Calls.forwardTraining(bn, shape, xs.asReadOnly(), ys, null, null, 1e-5f, Activation.RELU, null, null,
                                null);
                        assertArrayEquals(y, floats(ys, n), "forward " + xs + " -> " + ys);
                        MemorySegment dxs = out.apply(new float[n]);
                        Calls.backward(bn, shape, xs, in.apply(dy), ys, dxs, null, mean, invStd, true, Activation.RELU, null,
                                null);
                        assertArrayEquals(dx, floats(dxs, n), "backward " + xs + " -> " + dxs);
                    }
                }
            }
        }
    }

    /**
     * What the family's calls compute from x, residual and dy as {@code in} stores them into outputs
     * {@code out} stores (null: arrays): layer norm's y, h and dx of a fused residual forward, instance
     * norm's y, dx and parameter gradients, concatenated.
     */
    private static float[] familyOutputs(TensorShape shape, float[] x, float[] r, float[] dy, float[] w, float[] b,
                                         Function<float[], MemorySegment> in, Function<float[], MemorySegment> out) {
        int n = Math.toIntExact(shape.elementCount());
        TensorView xv = view(shape, x, in);
        TensorView rv = view(shape, r, in);
        TensorView dyv = view(shape, dy, in);
        TensorView yv = view(shape, new float[n], out);
        TensorView hv = view(shape, new float[n], out);
        TensorView dxv = view(shape, new float[n], out);
        float[] all = new float[6 * n];
        // layer norm over each sample, with the fused residual add, on the memory seen as (N, rest)
        int rows = Math.toIntExact(shape.batch());
        int features = n / rows;
        TensorShape rowsShape = TensorShape.nc(rows, features);
        for (TensorView v : List.of(xv, rv, dyv, yv, hv, dxv)) {
            v.reshape(rowsShape);
        }
        float[] lw = Arrays.copyOf(w, features);
        float[] lb = Arrays.copyOf(b, features);
        SavedStatistics saved = new SavedStatistics(rows);
        LayerNorm.get().forwardResidual(NormConfig.DEFAULT, 1, xv, rv, hv, yv, Affine.of(lw, lb), saved);
        LayerNorm.get().backward(NormConfig.DEFAULT, 1, saved, hv, dyv, dxv, Affine.weightOnly(lw), Affine.none());
        read(yv, all, 0);
        read(hv, all, n);
        read(dxv, all, 2 * n);
        for (TensorView v : List.of(xv, rv, dyv, yv, hv, dxv)) {
            v.reshape(shape);
        }
        // instance norm: group norm with a group per channel (the shapes' channel counts are prime)
        int c = shape.channels();
        SavedStatistics groups = new SavedStatistics(GroupNorm.units(shape, c));
        float[] gw = Arrays.copyOf(w, c);
        float[] gb = Arrays.copyOf(b, c);
        float[] dgw = new float[c];
        float[] dgb = new float[c];
        GroupNorm.get().forward(NormConfig.DEFAULT, c, xv, yv, Affine.of(gw, gb), groups);
        GroupNorm.get().backward(NormConfig.DEFAULT, c, groups, xv, dyv, dxv, Affine.weightOnly(gw),
                Affine.of(dgw, dgb));
        read(yv, all, 3 * n);
        read(dxv, all, 4 * n);
        System.arraycopy(dgw, 0, all, 5 * n, c);
        System.arraycopy(dgb, 0, all, 5 * n + c, c);
        return all;
    }

    /** A view of a copy of {@code data}: an array, or the segment {@code kind} makes. */
    private static TensorView view(TensorShape shape, float[] data, Function<float[], MemorySegment> kind) {
        return kind == null ? TensorView.of(shape, data.clone()) : TensorView.of(shape, kind.apply(data), 0);
    }

    private static void read(TensorView v, float[] into, int at) {
        int n = Math.toIntExact(v.shape().elementCount());
        if (v.isArray()) {
            System.arraycopy(v.array(), Math.toIntExact(v.offset()), into, at, n);
        } else {
            MemorySegment.copy(v.segment(), ValueLayout.JAVA_FLOAT_UNALIGNED, v.offset() * Float.BYTES, into, at, n);
        }
    }

    @Test
    void everyKindOfSegmentGivesTheFamilysBitsOfArrays() {
        Random random = new Random(5);
        try (Arena arena = Arena.ofConfined()) {
            for (TensorShape shape : SHAPES) {
                int n = Math.toIntExact(shape.elementCount());
                float[] x = new float[n];
                float[] r = new float[n];
                float[] dy = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (random.nextGaussian() * 3 + 1);
                    r[i] = (float) random.nextGaussian();
                    dy[i] = (float) random.nextGaussian();
                }
                float[] w = new float[n];
                float[] b = new float[n];
                for (int i = 0; i < n; i++) {
                    w[i] = (float) (1 + 0.1 * random.nextGaussian());
                    b[i] = (float) (0.1 * random.nextGaussian());
                }
                float[] expected = familyOutputs(shape, x, r, dy, w, b, null, null);
                for (Function<float[], MemorySegment> in : kinds(arena)) {
                    for (Function<float[], MemorySegment> out : kinds(arena)) {
                        assertArrayEquals(expected, familyOutputs(shape, x, r, dy, w, b, in, out),
                                shape + ": " + in.apply(x) + " -> " + out.apply(x));
                    }
                }
            }
        }
    }

    @Test
    void nioBuffersAreTakenInNativeByteOrderAndRefusedInTheOther() {
        TensorShape shape = TensorShape.nchw(2, 3, 4, 5);
        int n = (int) shape.elementCount();
        float[] x = new float[n];
        Random random = new Random(9);
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * 2 + 5);
        }
        float[] expected = new float[n];
        LayerNorm.get().forward(NormConfig.DEFAULT, 3, TensorView.of(shape, x), TensorView.of(shape, expected),
                Affine.none());
        ByteOrder other = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN
                : ByteOrder.LITTLE_ENDIAN;
        // a direct buffer in native order, with a position and a limit: the floats between them
        ByteBuffer in = ByteBuffer.allocateDirect(n * 4 + 8).order(ByteOrder.nativeOrder());
        in.position(4);
        in.asFloatBuffer().put(x);
        in.limit(4 + n * 4);
        ByteBuffer out = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
        LayerNorm.get().forward(NormConfig.DEFAULT, 3, TensorView.of(shape, in), TensorView.of(shape, out),
                Affine.none());
        float[] got = new float[n];
        out.asFloatBuffer().get(got);
        assertArrayEquals(expected, got);
        assertTrue(in.position() == 4 && in.limit() == 4 + n * 4, "the buffer's position and limit are untouched");
        // a heap FloatBuffer: its array
        float[] y = new float[n];
        LayerNorm.get().forward(NormConfig.DEFAULT, 3, TensorView.of(shape, FloatBuffer.wrap(x)),
                TensorView.of(shape, FloatBuffer.wrap(y)), Affine.none());
        assertArrayEquals(expected, y);
        // the other byte order is refused before anything is written, as a ByteBuffer and as its FloatBuffer
        ByteBuffer swapped = ByteBuffer.allocateDirect(n * 4).order(other);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorView.of(shape, swapped));
        assertTrue(e.getMessage().contains(other.toString()) && e.getMessage().contains("nativeOrder"),
                e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TensorView.of(shape, swapped.asFloatBuffer()));
        // the remaining size must be the shape's
        e = assertThrows(IllegalArgumentException.class,
                () -> TensorView.of(shape, ByteBuffer.allocateDirect(n * 4 + 4).order(ByteOrder.nativeOrder())));
        assertTrue(e.getMessage().contains((n * 4 + 4) + " bytes"), e.getMessage());
    }

    @Test
    void aPartialOverlapWithinOneHeapArrayIsFoundReadOnlyOrNot() {
        TensorShape shape = TensorShape.nc(4, 2);
        MemorySegment all = MemorySegment.ofArray(new float[16]);
        assertThrows(IllegalArgumentException.class, () -> Calls.forwardInference(BatchNorm.get(), shape,
                all.asSlice(0, 32).asReadOnly(), all.asSlice(4, 32), new float[2], new float[] {1, 1}, null, null,
                1e-5f, Activation.IDENTITY));
        // disjoint halves and separate arrays at the same offsets are fine
        Calls.forwardInference(BatchNorm.get(), shape, all.asSlice(0, 32), all.asSlice(32, 32), new float[2],
                new float[] {1, 1}, null, null, 1e-5f, Activation.IDENTITY);
        Calls.forwardInference(BatchNorm.get(), shape, MemorySegment.ofArray(new float[9]).asSlice(4),
                MemorySegment.ofArray(new float[10]).asSlice(8), new float[2], new float[] {1, 1}, null, null, 1e-5f,
                Activation.IDENTITY);
    }
}
