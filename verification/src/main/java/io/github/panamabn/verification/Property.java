package io.github.panamabn.verification;

import java.util.SplittableRandom;

/**
 * A small property-based test harness on plain JUnit: runs a property over a generator's edge cases
 * and then seeded random cases; on failure shrinks the case and throws an {@link AssertionError}
 * that names the property, the seed, the original and the smallest failing case.
 *
 * <p>Reproducible by construction: the seed is fixed per property name unless the system property
 * {@code panamabn.seed} sets one; {@code panamabn.tries} multiplies the number of random cases.
 */
public final class Property {
    private static final int MAX_SHRINK_STEPS = 200;

    private Property() {
    }

    /** A property over a case: returns normally when it holds, throws when it does not. */
    @FunctionalInterface
    public interface Check<T> {
        /** Checks the property for one case. */
        void check(T value) throws Exception;
    }

    /**
     * Runs {@code check} on every edge case of {@code gen} and on {@code tries} random cases.
     *
     * @return the number of cases tried
     */
    public static <T> int forAll(String name, int tries, Gen<T> gen, Check<T> check) {
        long seed = Long.getLong("panamabn.seed", name.hashCode() * 0x9E3779B97F4A7C15L);
        int scaled = (int) Math.max(1, tries * Double.parseDouble(System.getProperty("panamabn.tries", "1")));
        int tried = 0;
        for (T edge : gen.edgeCases()) {
            run(name, seed, "edge case " + tried, edge, gen, check);
            tried++;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < scaled; i++) {
            T value = gen.next(random);
            run(name, seed, "random case " + i, value, gen, check);
            tried++;
        }
        return tried;
    }

    private static <T> void run(String name, long seed, String which, T value, Gen<T> gen, Check<T> check) {
        Throwable failure = failure(check, value);
        if (failure == null) {
            return;
        }
        T smallest = value;
        Throwable smallestFailure = failure;
        int steps = 0;
        boolean shrunk = true;
        while (shrunk && steps < MAX_SHRINK_STEPS) {
            shrunk = false;
            for (T candidate : gen.shrink(smallest)) {
                steps++;
                Throwable f = failure(check, candidate);
                if (f != null) {
                    smallest = candidate;
                    smallestFailure = f;
                    shrunk = true;
                    break;
                }
            }
        }
        AssertionError error = new AssertionError("property '" + name + "' failed at " + which
                + " (seed " + seed + ", rerun with -Dpanamabn.seed=" + seed + ")\n  case:     " + value
                + "\n  smallest: " + smallest + " (after " + steps + " shrink attempts)\n  because:  "
                + smallestFailure, smallestFailure);
        throw error;
    }

    private static <T> Throwable failure(Check<T> check, T value) {
        try {
            check.check(value);
            return null;
        } catch (Exception | AssertionError e) {
            return e;
        }
    }
}
