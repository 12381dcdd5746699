package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.BatchNormLayer;
import io.github.panamabn.nn.safetensors.SafeTensors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Thousands of random argument combinations, most with one or more invalid arguments, against every
 * public entry point. The only outcomes allowed: a valid call succeeds and repeats bit for bit on
 * clean copies; an invalid one throws a documented exception (NullPointerException,
 * IllegalArgumentException, IndexOutOfBoundsException, IllegalStateException) with a message, and
 * every output, parameter, gradient and running statistic is unchanged.
 */
class FuzzTest {
    private static final float SENTINEL = -7.25f;
    private static final int CASES_PER_ENTRY = 1000;

    private final Set<String> messages = new TreeSet<>();
    private int tried;
    private int rejected;

    /** One random call: returns true when every argument was valid. */
    private interface Call {
        void run() throws Exception;
    }

    /** The outputs a call may write, snapshotted before and compared after a rejected call. */
    private static final class Outputs {
        private final List<float[]> arrays = new ArrayList<>();
        private final List<float[]> copies = new ArrayList<>();
        private final List<MemorySegment> segments = new ArrayList<>();
        private final List<byte[]> segmentCopies = new ArrayList<>();
        private final List<ChannelStatistics> stats = new ArrayList<>();
        private final List<ChannelStatistics> statCopies = new ArrayList<>();

        void add(float[] a) {
            if (a != null) {
                arrays.add(a);
                copies.add(a.clone());
            }
        }

        void add(MemorySegment s) {
            if (s != null && s.scope().isAlive() && s.isAccessibleBy(Thread.currentThread())) {
                segments.add(s);
                segmentCopies.add(s.toArray(ValueLayout.JAVA_BYTE));
            }
        }

        void add(ChannelStatistics s) {
            if (s != null) {
                stats.add(s);
                ChannelStatistics c = new ChannelStatistics(s.channels());
                c.set(s);
                statCopies.add(c);
            }
        }

        void assertUnchanged(String what) {
            for (int i = 0; i < arrays.size(); i++) {
                assertTrue(Arrays.equals(copies.get(i), arrays.get(i)), what + ": an output array was written");
            }
            for (int i = 0; i < segments.size(); i++) {
                assertTrue(Arrays.equals(segmentCopies.get(i), segments.get(i).toArray(ValueLayout.JAVA_BYTE)),
                        what + ": an output segment was written");
            }
            for (int i = 0; i < stats.size(); i++) {
                ChannelStatistics a = stats.get(i);
                ChannelStatistics b = statCopies.get(i);
                assertEquals(b.count(), a.count(), what + ": statistics were written");
                for (int c = 0; c < a.channels(); c++) {
                    assertEquals(Double.doubleToLongBits(b.mean(c)), Double.doubleToLongBits(a.mean(c)), what);
                    assertEquals(Double.doubleToLongBits(b.m2(c)), Double.doubleToLongBits(a.m2(c)), what);
                }
            }
        }
    }

    private void expect(boolean valid, Outputs outputs, String what, Call call, Call repeatOnCleanCopies) throws Exception {
        tried++;
        try {
            call.run();
        } catch (NullPointerException | IllegalArgumentException | IndexOutOfBoundsException | IllegalStateException e) {
            assertTrue(!valid, what + ": a valid call was refused: " + e);
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), what + ": no message");
            messages.add(template(e));
            rejected++;
            outputs.assertUnchanged(what + " (" + e.getMessage() + ")");
            return;
        }
        assertTrue(valid, what + ": an invalid call was accepted");
        if (repeatOnCleanCopies != null) {
            repeatOnCleanCopies.run();
        }
    }

    /** A failure message with its values blanked, to count distinct messages rather than distinct values. */
    private static String template(Exception e) {
        return e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage())
                .replaceAll("'[^']*'", "'*'").replaceAll("-?\\d[\\w.+-]*", "#");
    }

    // ------------------------------------------------------------ argument choices

    private static TensorShape shape(SplittableRandom r) {
        Layout layout = r.nextBoolean() ? Layout.CHANNELS_FIRST : Layout.CHANNELS_LAST;
        int rank = r.nextInt(3);
        long[] spatial = new long[rank];
        for (int i = 0; i < rank; i++) {
            spatial[i] = 1 + r.nextInt(9);
        }
        return TensorShape.of(layout, 2 + r.nextInt(5), 1 + r.nextInt(11), spatial);
    }

    /** A float array for {@code count} elements from {@code offset}, or an invalid one. */
    private static float[] data(SplittableRandom r, long count, int offset, boolean invalid) {
        if (invalid) {
            return r.nextBoolean() ? null : new float[Math.max(0, offset + (int) count - 1 - r.nextInt(3))];
        }
        float[] a = new float[offset + (int) count + r.nextInt(3)];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (r.nextGaussian() * 2 + 1);
        }
        return a;
    }

    /** A layer's array: exactly the shape's length, or (invalid) null, shorter or longer. */
    private static float[] layerData(SplittableRandom r, long count, boolean invalid) {
        float[] a = data(r, count, 0, false);
        if (invalid) {
            int kind = r.nextInt(3);
            return kind == 0 ? null : Arrays.copyOf(a, (int) count + (kind == 1 ? -1 - r.nextInt(2) : 1 + r.nextInt(2)));
        }
        return Arrays.copyOf(a, (int) count);
    }

    private static float[] perChannel(SplittableRandom r, int channels, boolean invalid, boolean nullable, float lo) {
        if (invalid) {
            return r.nextInt(3) == 0 && !nullable ? null : new float[channels + 1 + r.nextInt(2)];
        }
        if (nullable && r.nextInt(4) == 0) {
            return null;
        }
        float[] a = new float[channels];
        for (int i = 0; i < channels; i++) {
            a[i] = lo + (float) r.nextDouble();
        }
        return a;
    }

    private static float[] sentinels(int n) {
        float[] a = new float[n];
        Arrays.fill(a, SENTINEL);
        return a;
    }

    private static float eps(SplittableRandom r, boolean invalid) {
        float[] bad = {0f, -1e-5f, Float.NaN, Float.POSITIVE_INFINITY};
        return invalid ? bad[r.nextInt(bad.length)] : 1e-5f;
    }

    private static int offset(SplittableRandom r, boolean invalid) {
        return invalid ? (r.nextBoolean() ? -1 - r.nextInt(3) : 1_000_000) : r.nextInt(3);
    }

    private static ChannelStatistics statsOut(SplittableRandom r, int channels, boolean invalid, boolean nullable) {
        if (invalid) {
            return new ChannelStatistics(channels + 1);
        }
        if (nullable && r.nextBoolean()) {
            return null;
        }
        double[] m = new double[channels];
        double[] q = new double[channels];
        Arrays.fill(m, SENTINEL);
        Arrays.fill(q, 3);
        return ChannelStatistics.of(5, m, q);
    }

    /** Each argument is invalid with probability 1/8, so most calls have zero to two bad arguments. */
    private static boolean bad(SplittableRandom r) {
        return r.nextInt(8) == 0;
    }

    // ------------------------------------------------------------ entry points

    @Test
    void everyEntryPointOnlyEverSucceedsCorrectlyOrRefusesWithoutWriting() throws Exception {
        SplittableRandom r = new SplittableRandom(20261123);
        for (Implementation impl : Implementation.values()) {
            // The calling thread alone, or with a worker: the same contract.
            BatchNorm[] kernels = {BatchNorm.of(impl), BatchNorm.of(impl).withThreads(2)};
            for (int i = 0; i < CASES_PER_ENTRY; i++) {
                forwardTraining(kernels[r.nextInt(2)], r);
                forwardInference(kernels[r.nextInt(2)], r);
                backward(kernels[r.nextInt(2)], r);
                statistics(kernels[r.nextInt(2)], r);
                segments(kernels[r.nextInt(2)], r);
                threads(kernels[0], r);
            }
        }
        for (int i = 0; i < CASES_PER_ENTRY; i++) {
            layer(r);
            shapes(r);
            stateFiles(r);
        }
        System.out.printf("fuzz: %d calls, %d refused, %d accepted; %d distinct failure messages%n",
                tried, rejected, tried - rejected, messages.size());
        messages.forEach(m -> System.out.println("  " + m));
        assertTrue(rejected > tried / 4 && rejected < tried, "a mix of valid and invalid calls: " + rejected + " of " + tried);
    }

    private void forwardTraining(BatchNorm bn, SplittableRandom r) throws Exception {
        TensorShape s = shape(r);
        int c = s.channels();
        boolean[] b = {bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r)};
        boolean overlap = r.nextInt(12) == 0;
        int xOff = offset(r, b[0]);
        int yOff = offset(r, b[1]);
        // Arrays are sized for the offset only when it is valid, so an invalid offset stays invalid.
        float[] x = data(r, s.elementCount(), b[0] ? 0 : xOff, b[2]);
        float[] y = overlap && x != null ? x : b[3] ? data(r, s.elementCount(), b[1] ? 0 : yOff, true)
                : sentinels((b[1] ? 0 : yOff) + (int) s.elementCount());
        if (overlap && x != null) {
            yOff = Math.max(0, xOff) + 1 + r.nextInt(3);
        }
        float[] gamma = perChannel(r, c, b[4], true, 0.5f);
        float[] beta = perChannel(r, c, b[5], true, -0.5f);
        float eps = eps(r, b[6]);
        Activation act = b[7] ? null : r.nextBoolean() ? Activation.RELU : Activation.IDENTITY;
        ChannelStatistics stats = statsOut(r, c, b[8], true);
        float[] saveMean = b[9] ? new float[c + 1] : r.nextBoolean() ? sentinels(c) : null;
        float[] saveInv = b[10] ? new float[c + 2] : r.nextBoolean() ? sentinels(c) : null;
        boolean valid = !(b[0] || b[1] || b[2] || b[3] || b[4] || b[5] || b[6] || b[7] || b[8] || b[9] || b[10] || overlap);
        Outputs out = new Outputs();
        out.add(y);
        out.add(saveMean);
        out.add(saveInv);
        out.add(stats);
        int fy = yOff;
        expect(valid, out, "forwardTraining " + s + " flags " + Arrays.toString(b) + " overlap " + overlap + " xOff " + xOff + " yOff " + yOff + " x " + (x == null ? -1 : x.length) + " y " + (y == null ? -1 : y.length), () -> Calls.forwardTraining(bn, s, x, xOff, y, fy, gamma, beta, eps, act, stats,
                saveMean, saveInv), () -> {
                    float[] again = sentinels(y.length);
                    Calls.forwardTraining(bn, s, x.clone(), xOff, again, fy, gamma, beta, eps, act, null, null, null);
                    assertTrue(Arrays.equals(y, again), "forwardTraining repeats bit for bit");
                });
    }

    private void threads(BatchNorm bn, SplittableRandom r) throws Exception {
        boolean b = bad(r);
        int n = b ? (r.nextBoolean() ? r.nextInt(-2, 1) : r.nextInt(257, 1000)) : r.nextInt(1, 4);
        expect(!b, new Outputs(), "withThreads " + n, () -> assertEquals(n, bn.withThreads(n).threads()), () -> {
        });
    }

    private void forwardInference(BatchNorm bn, SplittableRandom r) throws Exception {
        TensorShape s = shape(r);
        int c = s.channels();
        boolean[] b = {bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r)};
        int xOff = offset(r, b[0]);
        float[] x = data(r, s.elementCount(), b[0] ? 0 : xOff, b[1]);
        float[] y = b[2] ? data(r, s.elementCount(), 0, true) : sentinels((int) s.elementCount());
        float[] mean = perChannel(r, c, b[3], false, -1f);
        float[] var = perChannel(r, c, b[4], false, 0f);
        if (b[5] && var != null && var.length == c) {
            var[r.nextInt(c)] = r.nextBoolean() ? -1f : Float.NaN;
        }
        float eps = eps(r, b[6]);
        boolean valid = !(b[0] || b[1] || b[2] || b[3] || b[4] || b[5] || b[6]);
        Outputs out = new Outputs();
        out.add(y);
        expect(valid, out, "forwardInference", () -> Calls.forwardInference(bn, s, x, xOff, y, 0, mean, var, null, null, eps,
                Activation.IDENTITY), () -> {
                    float[] again = sentinels(y.length);
                    Calls.forwardInference(bn, s, x.clone(), xOff, again, 0, mean, var, null, null, eps, Activation.IDENTITY);
                    assertTrue(Arrays.equals(y, again));
                });
    }

    private void backward(BatchNorm bn, SplittableRandom r) throws Exception {
        TensorShape s = shape(r);
        int c = s.channels();
        boolean[] b = {bad(r), bad(r), bad(r), bad(r), bad(r), bad(r), bad(r)};
        boolean relu = r.nextBoolean();
        float[] x = data(r, s.elementCount(), 0, b[0]);
        float[] dy = data(r, s.elementCount(), 0, b[1]);
        float[] y = relu ? data(r, s.elementCount(), 0, b[2]) : null;
        // A null dx means "not needed", so only a short one is invalid.
        float[] dx = b[3] ? sentinels((int) s.elementCount() - 1) : sentinels((int) s.elementCount());
        float[] mean = perChannel(r, c, b[4], false, -1f);
        float[] inv = perChannel(r, c, b[5], false, 0.5f);
        float[] dgamma = b[6] ? new float[c + 3] : sentinels(c);
        float[] dbeta = sentinels(c);
        boolean valid = !(b[0] || b[1] || relu && b[2] || b[3] || b[4] || b[5] || b[6]);
        Outputs out = new Outputs();
        out.add(dx);
        out.add(dgamma);
        out.add(dbeta);
        boolean training = r.nextBoolean();
        Activation act = relu ? Activation.RELU : Activation.IDENTITY;
        expect(valid, out, "backward", () -> Calls.backward(bn, s, x, 0, dy, 0, y, 0, dx, 0, null, mean, inv, training, act,
                dgamma, dbeta), () -> {
                    float[] again = sentinels(dx.length);
                    Calls.backward(bn, s, x, 0, dy.clone(), 0, y, 0, again, 0, null, mean, inv, training, act, null, null);
                    assertTrue(Arrays.equals(dx, again));
                });
    }

    private void statistics(BatchNorm bn, SplittableRandom r) throws Exception {
        TensorShape s = shape(r);
        boolean[] b = {bad(r), bad(r), bad(r)};
        int xOff = offset(r, b[0]);
        float[] x = data(r, s.elementCount(), b[0] ? 0 : xOff, b[1]);
        ChannelStatistics out = b[2] ? (r.nextBoolean() ? null : new ChannelStatistics(s.channels() + 1))
                : statsOut(r, s.channels(), false, false);
        Outputs o = new Outputs();
        o.add(out);
        expect(!(b[0] || b[1] || b[2]), o, "statistics", () -> Calls.statistics(bn, s, x, xOff, out), null);
    }

    private void segments(BatchNorm bn, SplittableRandom r) throws Exception {
        TensorShape s = shape(r);
        long bytes = s.elementCount() * Float.BYTES;
        try (Arena arena = Arena.ofConfined()) {
            Arena closed = Arena.ofConfined();
            MemorySegment dead = closed.allocate(bytes);
            closed.close();
            int kindX = bad(r) ? 1 + r.nextInt(3) : 0;
            int kindY = bad(r) ? 1 + r.nextInt(4) : 0;
            MemorySegment backing = arena.allocate(bytes + 64);
            MemorySegment x = switch (kindX) {
                case 0 -> kindY == 4 ? backing.asSlice(0, bytes) : arena.allocate(bytes);
                case 1 -> null;
                case 2 -> arena.allocate(bytes - 4);
                default -> dead;
            };
            MemorySegment y = switch (kindY) {
                case 0 -> arena.allocate(bytes);
                case 1 -> null;
                case 2 -> MemorySegment.ofArray(new float[(int) s.elementCount()]).asReadOnly();
                case 3 -> dead;
                default -> kindX == 0 ? backing.asSlice(4, bytes) : arena.allocate(bytes - 8); // partial overlap
            };
            if (x != null && x.scope().isAlive()) {
                for (long i = 0; i < x.byteSize() / 4; i++) {
                    x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
                }
            }
            if (y != null && y.scope().isAlive() && !y.isReadOnly() && y != x) {
                y.fill((byte) 0x55);
            }
            Outputs o = new Outputs();
            o.add(y);
            int which = r.nextInt(3);
            // backward takes a null dx to mean "not needed"
            boolean valid = kindX == 0 && (kindY == 0 || kindY == 1 && which == 2);
            String what = "segment " + (which == 0 ? "forwardTraining" : which == 1 ? "forwardInference" : "backward")
                    + " x kind " + kindX + " y kind " + kindY;
            float[] ones = new float[s.channels()];
            Arrays.fill(ones, 1f);
            expect(valid, o, what, () -> {
                switch (which) {
                    case 0 -> Calls.forwardTraining(bn, s, x, y, null, null, 1e-5f, Activation.IDENTITY, null, null, null);
                    case 1 -> Calls.forwardInference(bn, s, x, y, ones, ones, null, null, 1e-5f, Activation.IDENTITY);
                    default -> Calls.backward(bn, s, x, x, null, y, null, ones, ones, true, Activation.IDENTITY, null, null);
                }
            }, null);
        }
    }

    private void layer(SplittableRandom r) throws Exception {
        TensorShape s = shape(r);
        BatchNormLayer layer = s.spatialRank() == 2 ? new BatchNorm2d(s.channels()) : new BatchNorm1d(s.channels());
        if (r.nextBoolean()) {
            layer.eval();
        }
        boolean wrongChannels = bad(r);
        boolean oneValue = bad(r) && layer.isTraining();
        boolean badX = bad(r);
        boolean badY = bad(r);
        long[] ones = new long[s.spatialRank()];
        Arrays.fill(ones, 1);
        TensorShape used = oneValue ? TensorShape.of(s.layout(), 1, s.channels(), ones)
                : wrongChannels ? TensorShape.of(s.layout(), s.batch(), s.channels() + 1, spatial(s)) : s;
        float[] x = layerData(r, used.elementCount(), badX);
        float[] y = badY ? layerData(r, used.elementCount(), true) : sentinels((int) used.elementCount());
        Outputs o = new Outputs();
        o.add(y);
        o.add(layer.runningMean());
        o.add(layer.runningVar());
        o.add(layer.weight());
        long tracked = layer.numBatchesTracked();
        TensorShape shape = used;
        boolean valid = !(wrongChannels || oneValue || badX || badY);
        expect(valid, o, "layer forward", () -> layer.forward(shape, x, y), null);
        if (!valid) {
            assertEquals(tracked, layer.numBatchesTracked());
            return;
        }
        // Backward after a successful forward: bad arguments leave the gradients as they were.
        boolean badDy = bad(r);
        boolean badDx = bad(r);
        float[] dy = layerData(r, shape.elementCount(), badDy);
        float[] dx = sentinels((int) shape.elementCount() + (badDx ? (r.nextBoolean() ? -1 : 1) : 0));
        layer.weightGrad()[0] = SENTINEL;
        Outputs g = new Outputs();
        g.add(dx);
        g.add(layer.weightGrad());
        g.add(layer.biasGrad());
        expect(!(badDy || badDx), g, "layer backward", () -> layer.backward(shape, x, y, dy, dx), null);
    }

    private static long[] spatial(TensorShape s) {
        long[] d = new long[s.spatialRank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = s.spatialDim(i);
        }
        return d;
    }

    private void shapes(SplittableRandom r) throws Exception {
        long n = r.nextInt(6) == 0 ? -r.nextInt(3) : r.nextInt(6) == 0 ? Long.MAX_VALUE / 3 : 1 + r.nextInt(4);
        int c = r.nextInt(6) == 0 ? -r.nextInt(2) : 1 + r.nextInt(4);
        long d = r.nextInt(6) == 0 ? (r.nextBoolean() ? 0 : 1L << 40) : 1 + r.nextInt(4);
        boolean valid = n > 0 && n < 100 && c > 0 && d > 0 && d < 100;
        Layout layout = r.nextInt(10) == 0 ? null : Layout.CHANNELS_FIRST;
        expect(valid && layout != null, new Outputs(), "TensorShape.of", () -> TensorShape.of(layout, n, c, d, d), null);
    }

    private void stateFiles(SplittableRandom r) throws Exception {
        BatchNorm1d source = new BatchNorm1d(3);
        byte[] file = SafeTensors.write(source.stateDict(""));
        boolean corrupt = r.nextInt(3) != 0;
        if (corrupt) {
            int at = r.nextInt(file.length);
            file = r.nextBoolean() ? Arrays.copyOf(file, at) : file.clone();
            if (file.length > 0 && file.length == SafeTensors.write(source.stateDict("")).length) {
                // flip a header byte (the data bytes are free-form floats, so corrupt the structure)
                int h = 8 + r.nextInt(Math.max(1, Math.min(file.length - 8, 200)));
                file[h] = (byte) "{}[]\",:0x ".charAt(r.nextInt(10));
            }
        }
        BatchNorm1d target = new BatchNorm1d(3);
        Outputs o = new Outputs();
        o.add(target.weight());
        o.add(target.runningMean());
        o.add(target.runningVar());
        byte[] bytes = file;
        tried++;
        try {
            target.loadStateDict(SafeTensors.read(bytes), "");
        } catch (IllegalArgumentException | IndexOutOfBoundsException | IllegalStateException | NullPointerException e) {
            rejected++;
            messages.add(template(e));
            o.assertUnchanged("loadStateDict");
            assertEquals(0, target.numBatchesTracked());
        }
    }
}
