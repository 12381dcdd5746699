package io.github.panamabn.kernels.internal;

import io.github.panamabn.kernels.Implementation;
import java.lang.System.Logger.Level;
import java.util.Locale;
import java.util.Optional;

/**
 * Decides once which implementation runs by default: Panama where the Vector API module is readable
 * and its preferred vector is at least 128 bits wide, scalar otherwise, with one log line saying why.
 *
 * <p>The system property {@value #PROPERTY} ({@code scalar} or {@code panama}) forces a choice;
 * forcing {@code panama} where it cannot run is an error rather than a silent fallback.
 */
public final class KernelProvider {
    /** System property that forces the default implementation. */
    public static final String PROPERTY = "panamabn.kernels";
    private static final String MODULE = "jdk.incubator.vector";

    private static final String PANAMA_UNAVAILABLE_REASON = findPanamaUnavailableReason();
    private static final KernelBackend SCALAR = new ScalarBackend();
    private static final KernelBackend DEFAULT = selectDefault();

    private KernelProvider() {
    }

    /** The backend selected for this JVM. */
    public static KernelBackend defaultBackend() {
        return DEFAULT;
    }

    /** The backend of an implementation. */
    public static KernelBackend backend(Implementation implementation) {
        return switch (implementation) {
            case SCALAR -> SCALAR;
            case PANAMA -> {
                if (PANAMA_UNAVAILABLE_REASON != null) {
                    throw new UnsupportedOperationException(
                            "the PANAMA implementation is not available: " + PANAMA_UNAVAILABLE_REASON);
                }
                yield PanamaHolder.BACKEND;
            }
        };
    }

    /** Null when the Panama implementation can run here, else why it cannot. */
    public static String panamaUnavailableReason() {
        return PANAMA_UNAVAILABLE_REASON;
    }

    private static String findPanamaUnavailableReason() {
        if (System.getProperty("java.vm.info", "").contains("interpreted mode")) {
            return "the JVM runs interpreted (-Xint), where the Vector API is slower than scalar code";
        }
        Optional<Module> vector = ModuleLayer.boot().findModule(MODULE);
        if (vector.isEmpty()) {
            return "module " + MODULE + " is not present (start the JVM with --add-modules " + MODULE + ")";
        }
        if (!KernelProvider.class.getModule().canRead(vector.get())) {
            return "module " + KernelProvider.class.getModule().getName() + " does not read " + MODULE;
        }
        int bits = PanamaHolder.vectorBitSize();
        if (bits < 128) {
            return "the preferred vector is " + bits + " bits wide; at least 128 are needed";
        }
        return null;
    }

    private static KernelBackend selectDefault() {
        String forced = System.getProperty(PROPERTY, "").trim().toLowerCase(Locale.ROOT);
        System.Logger log = System.getLogger(KernelProvider.class.getName());
        switch (forced) {
            case "scalar":
                log.log(Level.INFO, "panama-bn: SCALAR kernels ({0}=scalar)", PROPERTY);
                return SCALAR;
            case "panama":
                return backend(Implementation.PANAMA);
            case "":
                break;
            default:
                throw new IllegalStateException(
                        "system property " + PROPERTY + " must be 'scalar' or 'panama', got '" + forced + "'");
        }
        if (PANAMA_UNAVAILABLE_REASON != null) {
            log.log(Level.INFO, "panama-bn: SCALAR kernels because {0}", PANAMA_UNAVAILABLE_REASON);
            return SCALAR;
        }
        return PanamaHolder.BACKEND;
    }

    /** Loaded only once the module is known to be readable. */
    private static final class PanamaHolder {
        static final KernelBackend BACKEND = new PanamaBackend();

        static int vectorBitSize() {
            return PanamaBackend.vectorBitSize();
        }
    }
}
