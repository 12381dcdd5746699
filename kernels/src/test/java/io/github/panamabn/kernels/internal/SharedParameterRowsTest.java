package io.github.panamabn.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Layer and RMS norm rows normalized four at a time per load of weight and bias give every float the
 * row-at-a-time loop gives, and the scalar twin's: on arrays and segments, in place, with and without
 * bias, for row lengths around the vector width (the scalar tails) and row counts that leave 1-3 rows
 * over; and the first-level cache's rule takes parameters of half the cache or more, on a cache of
 * 32 KB or less.
 */
class SharedParameterRowsTest {
    @Test
    void fourRowsAtATimeGiveTheBitsOfOneAtATime() {
        PanamaBackend panama = new PanamaBackend();
        ScalarBackend scalar = new ScalarBackend();
        SplittableRandom random = new SplittableRandom(11);
        int lanes = PanamaBackend.LANES;
        for (int length : new int[] {1, lanes - 1, lanes, lanes + 5, 4 * lanes + 3, 300}) {
            for (int rows : new int[] {1, 4, 5, 7, 11}) {
                int n = rows * length;
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (random.nextGaussian() * 2 + 5);
                }
                float[] weight = new float[length];
                float[] bias = new float[length];
                for (int i = 0; i < length; i++) {
                    weight[i] = (float) (1 + random.nextGaussian() * 0.3);
                    bias[i] = (float) random.nextGaussian();
                }
                int unit = 2;
                float[] center = new float[rows + unit];
                float[] scale = new float[rows + unit];
                float[] shift = new float[rows + unit];
                for (int q = 0; q < rows; q++) {
                    center[unit + q] = (float) (5 + random.nextGaussian() * 0.1);
                    scale[unit + q] = (float) (0.5 + random.nextDouble());
                    shift[unit + q] = (float) (random.nextGaussian() * 1e-7);
                }
                for (float[] b : new float[][] {bias, null}) {
                    String what = rows + " rows of " + length + (b == null ? ", no bias" : ", bias");
                    float[] expected = new float[n];
                    for (int q = 0; q < rows; q++) {
                        panama.normalizeAffine(x, null, (long) q * length, expected, null, (long) q * length, length,
                                center[unit + q], scale[unit + q], shift[unit + q], weight, b);
                    }
                    float[] shared = new float[n];
                    panama.normalizeAffineRows(x, null, 0, shared, null, 0, length, rows, center, scale, shift, unit,
                            weight, b);
                    assertArrayEquals(expected, shared, what + ": array");
                    float[] twin = new float[n];
                    scalar.normalizeAffineRows(x, null, 0, twin, null, 0, length, rows, center, scale, shift, unit,
                            weight, b);
                    assertArrayEquals(expected, twin, what + ": scalar twin");
                    float[] inPlace = x.clone();
                    panama.normalizeAffineRows(inPlace, null, 0, inPlace, null, 0, length, rows, center, scale, shift,
                            unit, weight, b);
                    assertArrayEquals(expected, inPlace, what + ": in place");
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment xs = arena.allocate((long) n * Float.BYTES);
                        MemorySegment ys = arena.allocate((long) n * Float.BYTES);
                        MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, n);
                        panama.normalizeAffineRows(null, xs, 0, null, ys, 0, length, rows, center, scale, shift, unit,
                                weight, b);
                        assertArrayEquals(expected, ys.toArray(ValueLayout.JAVA_FLOAT), what + ": segment");
                    }
                }
            }
        }
    }

    @Test
    void rowsShareParameterLoadsOfHalfASmallFirstLevelCache() {
        long l1 = Caches.LEVEL_ONE_DATA;
        assertTrue(l1 >= 1 << 10, "the L1 read or assumed: " + l1);
        boolean small = l1 <= Caches.SHARED_LOADS_MAX_LEVEL_ONE;
        assertTrue(Caches.sharesParameterLoads(l1 / 2) == small, "half of a " + l1 + "-byte L1");
        assertTrue(Caches.sharesParameterLoads(4 * l1) == small, "four times a " + l1 + "-byte L1");
        assertFalse(Caches.sharesParameterLoads(l1 / 2 - 1));
    }
}
