package io.github.panamabn.bench;

/**
 * The copy the kernels are measured against, compiled before it is timed. JMH calls a benchmark method
 * only a few dozen times on a tensor beyond the cache, too few for the JIT to compile it, and the
 * interpreter's {@code System.arraycopy} is not the compiled one: on a 2-core Xeon with AVX-512 a 512 MB
 * copy took 82-85 ms from an interpreted method and 46-48 ms from a compiled one, where the JDK's copy
 * stub writes copies of 2.5 MB or more with non-temporal stores (machines with 64-byte vectors), which a
 * loop in Java cannot issue. Every copy benchmark calls {@link #floats} after {@link #compile}.
 */
final class CompiledCopy {
    private static final int WARM_CALLS = 20_000;

    private CompiledCopy() {
    }

    /** Copies all of {@code from} to the start of {@code to}. */
    static void floats(float[] from, float[] to) {
        System.arraycopy(from, 0, to, 0, from.length);
    }

    /** Calls {@link #floats} often enough on a small array for the JIT's last tier to compile it. */
    static void compile() {
        float[] a = new float[256];
        float[] b = new float[256];
        for (int i = 0; i < WARM_CALLS; i++) {
            a[i & 255] = i;
            floats(a, b);
        }
        if (b[0] < 0) {
            throw new AssertionError("unreachable: keeps the warm-up's result alive");
        }
    }
}
