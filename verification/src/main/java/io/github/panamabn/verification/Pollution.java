package io.github.panamabn.verification;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.NormConfig;
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
 * A long-running service's mix of kernel calls: every kernel, layout, storage, activation and thread
 * count over a few shapes, to run interleaved before measuring, so that C2 compiles the kernels with
 * the type and branch profiles such a JVM has, not a fresh fork's. {@code PollutedAllocationTest}
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
                    calls.add(new Call(Kernel.STATISTICS, t, Activation.IDENTITY, bn));
                    for (Kernel k : Kernel.values()) {
                        for (Activation a : Activation.values()) {
                            if (k != Kernel.STATISTICS) {
                                calls.add(new Call(k, t, a, bn));
                            }
                        }
                    }
                }
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
        List<Call> small = calls.stream().filter(c -> c.t.shape.elementCount() < 1_000_000).toList();
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

        private static float[] filled(int n, float v) {
            float[] a = new float[n];
            Arrays.fill(a, v);
            return a;
        }
    }

    /** One configuration of the mix: a kernel on one shape's tensors, with an activation and kernels. */
    public static final class Call {
        private final Kernel kernel;
        private final Tensors t;
        private final Activation activation;
        private final NormConfig config;
        private final BatchNorm bn;

        private Call(Kernel kernel, Tensors t, Activation activation, BatchNorm bn) {
            this.kernel = kernel;
            this.t = t;
            this.activation = activation;
            this.config = NormConfig.DEFAULT.withActivation(activation);
            this.bn = bn;
        }

        /** The tensor's element count. */
        public long elementCount() {
            return t.shape.elementCount();
        }

        /** The kernel and implementation with its thread count, for grouping reports. */
        public String kind() {
            return kernel + " " + bn.implementation() + "x" + bn.threads() + (t.shape.elementCount() >= 1_000_000 ? " large" : "");
        }

        /** Makes the call. */
        public void run() {
            switch (kernel) {
                case STATISTICS -> bn.statistics(t.x, t.stats);
                case FORWARD_TRAINING -> bn.forwardTraining(config, t.x, t.y, t.affine, t.saved, t.stats);
                case FORWARD_INFERENCE -> bn.forwardInference(config, t.running, t.x, t.y, t.affine);
                case BACKWARD_TRAINING -> bn.backward(config, GradientMode.BATCH_STATISTICS, t.saved, t.x, t.y, t.dy,
                        t.dx, t.affine, t.affineGrad);
                case BACKWARD_FIXED_STATISTICS -> bn.backward(config, GradientMode.FIXED_STATISTICS, t.saved, t.x, t.y,
                        t.dy, t.dx, t.affine, t.affineGrad);
                default -> throw new AssertionError(kernel);
            }
        }

        @Override
        public String toString() {
            return kernel + " " + bn.implementation() + " " + t.shape + " " + t.storage + " " + activation
                    + " threads " + bn.threads();
        }
    }
}
