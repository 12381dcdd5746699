package io.github.panamabn.verification;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A long-running service's mix of kernel calls: every batch-norm kernel, layout, storage, activation and
 * thread count over a few shapes, and the per-sample norms (layer, RMS, group) on the same loops, to run
 * interleaved before measuring, so that C2 compiles the kernels with the type and branch profiles such a
 * JVM has, not a fresh fork's. {@code PollutedAllocationTest}
 * proves zero allocation after it; {@code PollutedKernelBenchmark} (bench) measures speed after it.
 */
public final class Pollution implements AutoCloseable {
    /** What a call runs. */
    public enum Kernel { STATISTICS, FORWARD_TRAINING, FORWARD_INFERENCE, BACKWARD_TRAINING, BACKWARD_FIXED_STATISTICS }

    /** Heap segments over float[] run as arrays; over byte[] and off-heap they run as segments. */
    public enum Storage {
        /** Every tensor a float[]. */
        ARRAY,
        /** Every tensor a heap segment over a float[]. */
        FLOAT_HEAP_SEGMENT,
        /** Every tensor a heap segment over a byte[]. */
        BYTE_HEAP_SEGMENT,
        /** Every tensor native memory. */
        NATIVE_SEGMENT,
        /** x and dy float[], y and dx native: the call runs on segments, the arrays wrapped once per view. */
        MIXED
    }

    private final Arena arena = Arena.ofShared();
    private final List<Call> calls = new ArrayList<>();

    /**
     * Every kernel, storage and activation over {@code shapes}, on each of {@code kernels} (a scalar one
     * only on shapes under a million elements, where it is not too slow to call often).
     */
    public Pollution(List<TensorShape> shapes, List<BatchNorm> kernels) {
        Random random = new Random(11);
        for (TensorShape shape : shapes) {
            for (Storage storage : Storage.values()) {
                Tensors t = new Tensors(shape, storage, random, arena);
                for (BatchNorm bn : kernels) {
                    if (bn.implementation() == Implementation.SCALAR && shape.elementCount() >= 1_000_000) {
                        continue;
                    }
                    calls.add(Call.batchNorm(Kernel.STATISTICS, t, Activation.IDENTITY, bn));
                    for (Kernel k : Kernel.values()) {
                        for (Activation a : Activation.values()) {
                            if (k != Kernel.STATISTICS) {
                                calls.add(Call.batchNorm(k, t, a, bn));
                            }
                        }
                    }
                }
            }
        }
        for (BatchNorm bn : kernels) {
            addFamily(bn.implementation(), bn.threads(), random);
        }
    }

    /**
     * The per-sample norms on the same loops: layer and RMS norm (forward, backward, fused residual) on
     * rows of 4096 and on short rows with lane tails, group norm in both layouts, on arrays and native
     * memory.
     */
    private void addFamily(Implementation implementation, int threads, Random random) {
        LayerNorm ln = LayerNorm.of(implementation).withThreads(threads);
        RmsNorm rms = RmsNorm.of(implementation).withThreads(threads);
        GroupNorm gn = GroupNorm.of(implementation).withThreads(threads);
        String how = implementation + "x" + threads;
        NormConfig config = NormConfig.DEFAULT;
        for (Storage storage : new Storage[] {Storage.ARRAY, Storage.NATIVE_SEGMENT}) {
            for (TensorShape shape : new TensorShape[] {TensorShape.nc(64, 4096), TensorShape.ncl(3, 7, 61)}) {
                Tensors t = new Tensors(shape, storage, random, arena);
                int features = (int) LayerNorm.features(shape, 1);
                int rows = (int) LayerNorm.rows(shape, 1);
                float[] w = Tensors.filled(features, 1.5f);
                Affine affine = Affine.of(w, Tensors.filled(features, 0.25f));
                Affine weight = Affine.weightOnly(w);
                Affine grads = Affine.of(new float[features], new float[features]);
                Affine weightGrad = Affine.weightOnly(new float[features]);
                SavedStatistics save = new SavedStatistics(rows);
                String on = shape + " " + storage + " threads " + threads;
                long n = shape.elementCount();
                calls.add(new Call("LAYER_FORWARD " + how, "layer forward " + how + " " + on, n,
                        () -> ln.forward(config, 1, t.x, t.y, affine, save)));
                calls.add(new Call("LAYER_BACKWARD " + how, "layer backward " + how + " " + on, n,
                        () -> ln.backward(config, 1, save, t.x, t.dy, t.dx, affine, grads)));
                calls.add(new Call("LAYER_RESIDUAL " + how, "layer residual " + how + " " + on, n,
                        () -> ln.forwardResidual(config, 1, t.x, t.dy, t.dx, t.y, affine, save)));
                calls.add(new Call("RMS_FORWARD " + how, "rms forward " + how + " " + on, n,
                        () -> rms.forward(config, 1, t.x, t.y, weight, save)));
                calls.add(new Call("RMS_BACKWARD " + how, "rms backward " + how + " " + on, n,
                        () -> rms.backward(config, 1, save, t.x, t.dy, t.dx, weight, weightGrad)));
                calls.add(new Call("RMS_RESIDUAL " + how, "rms residual " + how + " " + on, n,
                        () -> rms.forwardResidual(config, 1, t.x, t.dy, t.dx, t.y, weight, save)));
            }
            for (Layout layout : Layout.values()) {
                TensorShape shape = TensorShape.of(layout, 2, 32, 16, 16);
                Tensors t = new Tensors(shape, storage, random, arena);
                SavedStatistics save = new SavedStatistics(GroupNorm.units(shape, 8));
                String on = shape + " " + storage + " threads " + threads;
                long n = shape.elementCount();
                calls.add(new Call("GROUP_FORWARD " + how, "group forward " + how + " " + on, n,
                        () -> gn.forward(config, 8, t.x, t.y, t.affine, save)));
                calls.add(new Call("GROUP_BACKWARD " + how, "group backward " + how + " " + on, n,
                        () -> gn.backward(config, 8, save, t.x, t.dy, t.dx, t.affine, t.affineGrad)));
            }
        }
    }

    /** The shapes of the issue that found the boxing: tails, narrow rows, BatchNorm1d, a large tensor. */
    public static List<TensorShape> serviceShapes() {
        return List.of(
                TensorShape.nchw(7, 61, 13, 13), TensorShape.of(Layout.CHANNELS_LAST, 7, 61, 13, 13),
                TensorShape.nchw(3, 5, 7, 11), TensorShape.of(Layout.CHANNELS_LAST, 3, 5, 7, 11),
                TensorShape.nc(256, 1024),
                TensorShape.nchw(8, 64, 56, 56), TensorShape.of(Layout.CHANNELS_LAST, 8, 64, 56, 56));
    }

    /** Panama on one and two threads, and the scalar twin. */
    public static List<BatchNorm> serviceKernels() {
        BatchNorm one = BatchNorm.of(Implementation.PANAMA);
        return List.of(one, one.withThreads(2), BatchNorm.of(Implementation.SCALAR));
    }

    /** Every call of the mix. */
    public List<Call> calls() {
        return calls;
    }

    /**
     * Runs the mix in a random interleaving for {@code time}; for its first half only the tensors under a
     * million elements, since a loop the JIT has not compiled yet runs its vectors in the interpreter
     * (boxing each, slower by orders of magnitude), and the large tensors would spend the phase there.
     * The loops are the same for every size. Then each call once more.
     *
     * @return the calls made
     */
    public long run(Duration time, long seed) {
        Random random = new Random(seed);
        List<Call> small = calls.stream().filter(c -> c.elements < 1_000_000).toList();
        long nanos = time.toNanos();
        long start = System.nanoTime();
        long made = 0;
        while (System.nanoTime() - start < nanos) {
            List<Call> from = System.nanoTime() - start < nanos / 2 && !small.isEmpty() ? small : calls;
            from.get(random.nextInt(from.size())).run();
            made++;
        }
        for (Call c : calls) {
            c.run();
        }
        return made + calls.size();
    }

    @Override
    public void close() {
        arena.close();
    }

    /** One shape's tensors in one storage, and its per-channel arrays. */
    private static final class Tensors {
        final TensorShape shape;
        final Storage storage;
        final TensorView x;
        final TensorView y;
        final TensorView dy;
        final TensorView dx;
        final Affine affine;
        final RunningStatistics running;
        final SavedStatistics saved;
        final Affine affineGrad;
        final ChannelStatistics stats;

        Tensors(TensorShape shape, Storage storage, Random random, Arena arena) {
            this.shape = shape;
            this.storage = storage;
            int n = Math.toIntExact(shape.elementCount());
            int c = shape.channels();
            float[][] data = new float[4][n];
            for (float[] d : data) {
                for (int i = 0; i < n; i++) {
                    d[i] = (float) random.nextGaussian();
                }
            }
            TensorView[] views = new TensorView[4];
            for (int i = 0; i < 4; i++) {
                boolean array = storage == Storage.ARRAY || (storage == Storage.MIXED && i % 2 == 0);
                views[i] = array ? TensorView.of(shape, data[i]) : TensorView.of(shape, segment(data[i], storage, arena));
            }
            x = views[0];
            y = views[1];
            dy = views[2];
            dx = views[3];
            affine = Affine.of(filled(c, 1.5f), filled(c, 0.25f));
            running = RunningStatistics.of(filled(c, 0.1f), filled(c, 0.9f));
            saved = SavedStatistics.of(filled(c, 0.1f), filled(c, 1.05f));
            affineGrad = Affine.of(new float[c], new float[c]);
            stats = new ChannelStatistics(c);
        }

        private static MemorySegment segment(float[] data, Storage storage, Arena arena) {
            MemorySegment s = switch (storage) {
                case FLOAT_HEAP_SEGMENT -> MemorySegment.ofArray(new float[data.length]);
                case BYTE_HEAP_SEGMENT -> MemorySegment.ofArray(new byte[data.length * Float.BYTES]);
                case NATIVE_SEGMENT, MIXED -> arena.allocate((long) data.length * Float.BYTES, 64);
                case ARRAY -> throw new AssertionError();
            };
            MemorySegment.copy(data, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, data.length);
            return s;
        }

        static float[] filled(int n, float v) {
            float[] a = new float[n];
            Arrays.fill(a, v);
            return a;
        }
    }

    /** One configuration of the mix: a kernel on one shape's tensors, with its options and implementation. */
    public static final class Call {
        private final String kind;
        private final String description;
        private final long elements;
        private final Runnable action;

        private Call(String kind, String description, long elements, Runnable action) {
            this.kind = kind;
            this.description = description;
            this.elements = elements;
            this.action = action;
        }

        /** A batch-norm kernel with an activation, on one shape's tensors. */
        private static Call batchNorm(Kernel kernel, Tensors t, Activation activation, BatchNorm bn) {
            NormConfig config = NormConfig.DEFAULT.withActivation(activation);
            Runnable action = switch (kernel) {
                case STATISTICS -> () -> bn.statistics(t.x, t.stats);
                case FORWARD_TRAINING -> () -> bn.forwardTraining(config, t.x, t.y, t.affine, t.saved, t.stats);
                case FORWARD_INFERENCE -> () -> bn.forwardInference(config, t.running, t.x, t.y, t.affine);
                case BACKWARD_TRAINING -> () -> bn.backward(config, GradientMode.BATCH_STATISTICS, t.saved, t.x, t.y,
                        t.dy, t.dx, t.affine, t.affineGrad);
                case BACKWARD_FIXED_STATISTICS -> () -> bn.backward(config, GradientMode.FIXED_STATISTICS, t.saved, t.x,
                        t.y, t.dy, t.dx, t.affine, t.affineGrad);
            };
            String how = bn.implementation() + "x" + bn.threads();
            return new Call(kernel + " " + how + (t.shape.elementCount() >= 1_000_000 ? " large" : ""),
                    kernel + " " + bn.implementation() + " " + t.shape + " " + t.storage + " " + activation
                            + " threads " + bn.threads(), t.shape.elementCount(), action);
        }

        /** The tensor's element count. */
        public long elementCount() {
            return elements;
        }

        /** The kernel and implementation with its thread count, for grouping reports. */
        public String kind() {
            return kind;
        }

        /** Makes the call. */
        public void run() {
            action.run();
        }

        @Override
        public String toString() {
            return description;
        }
    }
}
