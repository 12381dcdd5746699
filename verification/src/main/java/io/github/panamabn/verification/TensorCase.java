package io.github.panamabn.verification;

import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A generated test tensor: a shape, a data family, the seed of its data and the offset it starts at
 * in its array. The data are a pure function of these, so a printed case can be rebuilt exactly.
 */
public record TensorCase(TensorShape shape, DataFamily family, long seed, int offset) {

    /** The data: {@code offset} leading floats, then the tensor. */
    public float[] data() {
        float[] x = new float[offset + Math.toIntExact(shape.elementCount())];
        family.fill(shape, x, offset, new SplittableRandom(seed));
        return x;
    }

    /** The same case with another shape (used by shrinking, and to compare layouts). */
    public TensorCase withShape(TensorShape newShape) {
        return new TensorCase(newShape, family, seed, offset);
    }

    @Override
    public String toString() {
        return shape + " " + family + " seed=" + seed + " offset=" + offset;
    }

    /**
     * Extents that straddle every lane count (1, L-1, L, L+1, 2L-1, 2L+1 for L in 4, 8, 16), primes,
     * and real spatial sizes.
     */
    static final int[] SIZES = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 13, 61, 97, 49, 196};

    /**
     * Random tensors of at most {@code maxElements} elements, any layout and spatial rank 0 to 3,
     * drawn from {@code families}.
     */
    public static Gen<TensorCase> generator(int maxElements, DataFamily... families) {
        return new Gen<>() {
            @Override
            public TensorCase next(SplittableRandom r) {
                TensorShape shape;
                do {
                    int rank = r.nextInt(4);
                    long[] spatial = new long[rank];
                    for (int i = 0; i < rank; i++) {
                        spatial[i] = r.nextInt(8) == 0 ? 3136 : SIZES[r.nextInt(SIZES.length)];
                    }
                    Layout layout = r.nextBoolean() ? Layout.CHANNELS_FIRST : Layout.CHANNELS_LAST;
                    int channels = r.nextInt(4) == 0 ? 1 : SIZES[r.nextInt(SIZES.length)];
                    long batch = SIZES[r.nextInt(SIZES.length)];
                    shape = TensorShape.of(layout, batch, channels, spatial);
                } while (shape.elementCount() > maxElements || shape.perChannelCount() < 2);
                return new TensorCase(shape, families[r.nextInt(families.length)], r.nextLong(), r.nextInt(4));
            }

            @Override
            public List<TensorCase> edgeCases() {
                List<TensorCase> edges = new ArrayList<>();
                long seed = 1;
                for (DataFamily f : families) {
                    for (Layout layout : Layout.values()) {
                        edges.add(new TensorCase(TensorShape.of(layout, 2, 1), f, seed++, 0));
                        edges.add(new TensorCase(TensorShape.of(layout, 3, 17, 1, 1), f, seed++, 1));
                        edges.add(new TensorCase(TensorShape.of(layout, 2, 3, 7, 7), f, seed++, 0));
                        edges.add(new TensorCase(TensorShape.of(layout, 5, 33, 15), f, seed++, 3));
                        edges.add(new TensorCase(TensorShape.of(layout, 1, 2, 3136), f, seed++, 2));
                    }
                }
                return edges;
            }

            @Override
            public List<TensorCase> shrink(TensorCase value) {
                TensorShape s = value.shape();
                LinkedHashSet<TensorShape> smaller = new LinkedHashSet<>();
                long[] spatial = new long[s.spatialRank()];
                for (int i = 0; i < spatial.length; i++) {
                    spatial[i] = s.spatialDim(i);
                }
                for (long n : new long[] {1, s.batch() / 2, s.batch() - 1}) {
                    if (n >= 1 && n < s.batch()) {
                        smaller.add(TensorShape.of(s.layout(), n, s.channels(), spatial));
                    }
                }
                for (int c : new int[] {1, s.channels() / 2, s.channels() - 1}) {
                    if (c >= 1 && c < s.channels()) {
                        smaller.add(TensorShape.of(s.layout(), s.batch(), c, spatial));
                    }
                }
                if (spatial.length > 0) {
                    smaller.add(TensorShape.of(s.layout(), s.batch(), s.channels(),
                            java.util.Arrays.copyOf(spatial, spatial.length - 1)));
                }
                for (int i = 0; i < spatial.length; i++) {
                    for (long d : new long[] {1, spatial[i] / 2, spatial[i] - 1}) {
                        if (d >= 1 && d < spatial[i]) {
                            long[] t = spatial.clone();
                            t[i] = d;
                            smaller.add(TensorShape.of(s.layout(), s.batch(), s.channels(), t));
                        }
                    }
                }
                List<TensorCase> out = new ArrayList<>();
                for (TensorShape t : smaller) {
                    if (t.perChannelCount() >= 2) {
                        out.add(value.withShape(t));
                    }
                }
                if (value.offset() > 0) {
                    out.add(new TensorCase(s, value.family(), value.seed(), 0));
                }
                return out;
            }
        };
    }
}
