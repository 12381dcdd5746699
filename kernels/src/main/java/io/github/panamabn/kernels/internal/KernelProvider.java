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
 * forcing {@code panama} where it cannot run is an error rather than a silent fallback. A bad value is
 * an error of every call that asks for the default, never of class initialization (which would leave
 * the classes unusable, with a {@code NoClassDefFoundError} on every later call).
 */
public final class KernelProvider {
    /** System property that forces the default implementation. */
    public static final String PROPERTY = "panamabn.kernels";
    private static final String MODULE = "jdk.incubator.vector";

    private static final String PANAMA_UNAVAILABLE_REASON = findPanamaUnavailableReason();
    private static final KernelBackend SCALAR = new ScalarBackend();
    /** Why there is no default, or null: a bad property value or a forced Panama that cannot run. */
    private static final String DEFAULT_ERROR = findDefaultError();
    private static final boolean FORCED_PANAMA_UNAVAILABLE =
            PANAMA_UNAVAILABLE_REASON != null && forcedValue().equals("panama");
    private static final KernelBackend DEFAULT = DEFAULT_ERROR == null ? selectDefault() : null;

    private KernelProvider() {
    }

    /**
     * The backend selected for this JVM.
     *
     * @throws IllegalArgumentException if {@value #PROPERTY} is neither {@code scalar} nor {@code panama}
     * @throws UnsupportedOperationException if it forces {@code panama} where Panama cannot run
     */
    public static KernelBackend defaultBackend() {
        if (DEFAULT == null) {
            if (FORCED_PANAMA_UNAVAILABLE) {
                throw new UnsupportedOperationException(DEFAULT_ERROR);
            }
            throw new IllegalArgumentException(DEFAULT_ERROR);
        }
        return DEFAULT;
    }

    private static String forcedValue() {
        return System.getProperty(PROPERTY, "").trim().toLowerCase(Locale.ROOT);
    }

    private static String findDefaultError() {
        String forced = forcedValue();
        return switch (forced) {
            case "", "scalar" -> null;
            case "panama" -> PANAMA_UNAVAILABLE_REASON == null ? null : "system property " + PROPERTY
                    + "=panama forces the PANAMA implementation, which is not available: " + PANAMA_UNAVAILABLE_REASON;
            default -> "system property " + PROPERTY + " must be 'scalar' or 'panama' (or unset: Panama where it "
                    + "runs, else scalar), got '" + System.getProperty(PROPERTY) + "'";
        };
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

    /** The default once {@link #findDefaultError} found none. */
    private static KernelBackend selectDefault() {
        String forced = forcedValue();
        System.Logger log = System.getLogger(KernelProvider.class.getName());
        if (forced.equals("scalar")) {
            log.log(Level.INFO, "panama-bn: SCALAR kernels ({0}=scalar)", PROPERTY);
            return SCALAR;
        }
        if (forced.equals("panama")) {
            return PanamaHolder.BACKEND;
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
