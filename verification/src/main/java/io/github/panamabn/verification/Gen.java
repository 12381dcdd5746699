package io.github.panamabn.verification;

import java.util.List;
import java.util.SplittableRandom;

/**
 * A generator of test cases for {@link Property}: edge cases tried first, then random ones from a
 * seeded source, and smaller candidates for shrinking a failing case.
 *
 * @param <T> the case type; its {@code toString} is what a failure prints
 */
public interface Gen<T> {
    /** A random case; the same random state gives the same case. */
    T next(SplittableRandom random);

    /** Cases tried before any random one. */
    default List<T> edgeCases() {
        return List.of();
    }

    /** Cases smaller than {@code value}, most reduced first; empty when it cannot shrink. */
    default List<T> shrink(T value) {
        return List.of();
    }
}
