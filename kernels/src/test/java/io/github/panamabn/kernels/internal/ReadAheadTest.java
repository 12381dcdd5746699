package io.github.panamabn.kernels.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A row normalized while the next chunk is read ahead ({@code normalizeTouching}) gives every float
 * that {@code normalizeRuns} (no weight) and {@code normalizeAffine} give, and the scalar twin's: on
 * arrays and segments, in place, with and without weight and bias, for row lengths around the vector
 * width (the masked and scalar tails) and read-ahead lengths from none to past the row's own, reading
 * up to the storage's last float and no further.
 */
class ReadAheadTest {
    @Test
    void readingAheadLeavesEveryOutputFloatAsItWas() {
        PanamaBackend panama = new PanamaBackend();
        ScalarBackend scalar = new ScalarBackend();
        SplittableRandom random = new SplittableRandom(7);
        int lanes = PanamaBackend.LANES;
        for (int length : new int[] {1, lanes - 1, lanes, lanes + 5, 4 * lanes + 3, 300}) {
            for (int touch : new int[] {0, lanes - 1, lanes, lanes + 3, length, 2 * length + lanes}) {
                // the row, then the floats read ahead: the read ends at the storage's last float
                int n = length + touch;
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
                float center = (float) (5 + random.nextGaussian() * 0.1);
                float scale = (float) (0.5 + random.nextDouble());
                float shift = (float) (random.nextGaussian() * 1e-7);
                for (int variant = 0; variant < 3; variant++) {
                    float[] w = variant == 0 ? null : weight;
                    float[] b = variant == 2 ? bias : null;
                    String what = length + " floats, " + touch + " read ahead, "
                            + new String[] {"no weight", "weight", "weight and bias"}[variant];
                    float[] expected = new float[n];
                    if (w == null) {
                        panama.normalizeRuns(x, null, 0, expected, null, 0, 0, length, 1, center, scale, shift,
                                Float.NEGATIVE_INFINITY);
                    } else {
                        panama.normalizeAffine(x, null, 0, expected, null, 0, length, center, scale, shift, w, b);
                    }
                    float[] read = new float[n];
                    panama.normalizeTouching(x, null, 0, read, null, 0, length, center, scale, shift, w, b, length,
                            touch);
                    assertArrayEquals(expected, read, what + ": array");
                    float[] twin = new float[n];
                    scalar.normalizeTouching(x, null, 0, twin, null, 0, length, center, scale, shift, w, b, length,
                            touch);
                    assertArrayEquals(expected, twin, what + ": scalar twin");
                    float[] inPlace = x.clone();
                    panama.normalizeTouching(inPlace, null, 0, inPlace, null, 0, length, center, scale, shift, w, b,
                            length, touch);
                    float[] expectedInPlace = x.clone();
                    System.arraycopy(expected, 0, expectedInPlace, 0, length);
                    assertArrayEquals(expectedInPlace, inPlace, what + ": in place");
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment xs = arena.allocate((long) n * Float.BYTES);
                        MemorySegment ys = arena.allocate((long) n * Float.BYTES);
                        MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, n);
                        panama.normalizeTouching(null, xs, 0, null, ys, 0, length, center, scale, shift, w, b,
                                length, touch);
                        assertArrayEquals(expected, ys.toArray(ValueLayout.JAVA_FLOAT), what + ": segment");
                    }
                }
            }
        }
    }
}
