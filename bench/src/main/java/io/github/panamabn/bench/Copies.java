package io.github.panamabn.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The copies the kernels are measured against, compiled before they are timed. JMH calls a benchmark
 * method only a few dozen times on a tensor beyond the cache, too few for the JIT to compile it, and the
 * interpreter's {@code System.arraycopy} is not the compiled one: on a 2-core Xeon with AVX-512 a 512 MB
 * copy took 82-85 ms from an interpreted method and 46-48 ms from a compiled one. The compiled copy is
 * the JDK's stub, which on machines with 64-byte vectors writes copies of 2.5 MB or more with
 * non-temporal stores (no read of the destination first); a loop in Java cannot issue those, so
 * {@link #vectorLoop}, a copy by vector loads and stores, is the pace any kernel that writes its output
 * can reach (on that Xeon 82 ms for the same 512 MB).
 */
final class Copies {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int WARM_CALLS = 20_000;

    private Copies() {
    }

    /** {@code System.arraycopy} of all of {@code from} to the start of {@code to}. */
    static void arraycopy(float[] from, float[] to) {
        System.arraycopy(from, 0, to, 0, from.length);
    }

    /** All of {@code from} to the start of {@code to} by vector loads and stores, four per step. */
    static void vectorLoop(float[] from, float[] to) {
        int l = SPECIES.length();
        int i = 0;
        for (; i + 4 * l <= from.length; i += 4 * l) {
            FloatVector.fromArray(SPECIES, from, i).intoArray(to, i);
            FloatVector.fromArray(SPECIES, from, i + l).intoArray(to, i + l);
            FloatVector.fromArray(SPECIES, from, i + 2 * l).intoArray(to, i + 2 * l);
            FloatVector.fromArray(SPECIES, from, i + 3 * l).intoArray(to, i + 3 * l);
        }
        for (; i < from.length; i++) {
            to[i] = from[i];
        }
    }

    /** Calls both copies often enough on a small array for the JIT's last tier to compile them. */
    static void compile() {
        float[] a = new float[256];
        float[] b = new float[256];
        for (int i = 0; i < WARM_CALLS; i++) {
            a[i & 255] = i;
            arraycopy(a, b);
            vectorLoop(b, a);
        }
        if (a[0] < 0) {
            throw new AssertionError("unreachable: keeps the warm-up's result alive");
        }
    }
}
