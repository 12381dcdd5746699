package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.TensorShape;
import java.util.Arrays;

/** The normalized shape of {@link LayerNorm} and {@link RMSNorm}: its size, and inputs that end in it. */
final class LayerNormShapes {
    private LayerNormShapes() {
    }

    static int features(long[] shape) {
        if (shape == null || shape.length == 0) {
            throw new IllegalArgumentException("normalized_shape must have at least one dimension");
        }
        long n = 1;
        for (long d : shape) {
            if (d < 1) {
                throw new IllegalArgumentException("normalized_shape must have positive dimensions, got "
                        + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("normalized_shape " + Arrays.toString(shape) + " has more elements than "
                    + "an array holds");
        }
        return (int) n;
    }

    /** The input's logical dimensions (N, C, spatial...) must end in {@code normalizedShape}. */
    static void check(Object layer, TensorShape shape, long[] normalizedShape) {
        if (shape == null) {
            throw new NullPointerException(layer + ": shape must not be null");
        }
        // compared in place: a layer's forward allocates nothing
        int rank = shape.spatialRank() + 2;
        boolean ok = rank >= normalizedShape.length;
        for (int i = 0; ok && i < normalizedShape.length; i++) {
            ok = dim(shape, rank - normalizedShape.length + i) == normalizedShape[i];
        }
        if (!ok) {
            throw new IllegalArgumentException(layer + ": input " + shape + " does not end in the normalized shape "
                    + Arrays.toString(normalizedShape));
        }
    }

    /** Logical dimension d of (N, C, spatial...). */
    private static long dim(TensorShape shape, int d) {
        return d == 0 ? shape.batch() : d == 1 ? shape.channels() : shape.spatialDim(d - 2);
    }
}
