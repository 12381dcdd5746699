package io.github.panamabn.verification;

import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.Implementation;

/** Test helpers shared across the suites. */
final class Implementations {
    private Implementations() {
    }

    /**
     * The kernels of {@code implementation}. Panama must be available in this suite: surefire starts the
     * JVM with the module, so an unavailable Panama fails the tests instead of silently testing scalar twice.
     */
    static BatchNorm kernels(Implementation implementation) {
        return BatchNorm.of(implementation);
    }
}
