package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.TensorShape;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Which implementation runs: PANAMA wherever the module is present (this suite's JVM has it, so a
 * silent fallback fails here), SCALAR with one log line where it is not, and the system property
 * forces either.
 */
class ImplementationSelectionTest {

    @Test
    void panamaIsSelectedWhereTheModuleIsPresent() {
        assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(),
                "the test JVM must run with --add-modules jdk.incubator.vector");
        assertTrue(BatchNorm.isAvailable(Implementation.PANAMA));
        assertEquals(Implementation.PANAMA, BatchNorm.get().implementation());
    }

    @Test
    void scalarIsSelectedAndWorksWithoutTheModule() throws Exception {
        String out = runChild(List.of());
        assertTrue(out.contains("selected=SCALAR"), out);
        assertTrue(out.contains("panamaAvailable=false"), out);
        assertTrue(out.contains("jdk.incubator.vector is not present"), "one log line says why: " + out);
        assertTrue(out.contains("mean=2.000000 variance=1.000000"), out);
    }

    @Test
    void thePropertyForcesScalarEvenWithTheModule() throws Exception {
        String out = runChild(List.of("--add-modules=jdk.incubator.vector", "-Dpanamabn.kernels=scalar"));
        assertTrue(out.contains("selected=SCALAR"), out);
        assertTrue(out.contains("panamaAvailable=true"), out);
    }

    @Test
    void aBadPropertyValueIsAnIllegalArgumentOfEveryCallNamingTheValue() throws Exception {
        String out = runChild(List.of("--add-modules=jdk.incubator.vector", "-Dpanamabn.kernels=fast"),
                BadValueChild.class);
        // twice the same clear error, never a NoClassDefFoundError; explicit implementations still work
        String error = "IllegalArgumentException: system property panamabn.kernels must be 'scalar' or 'panama'";
        assertEquals(2, out.split(java.util.regex.Pattern.quote(error), -1).length - 1, out);
        assertTrue(out.contains("got 'fast'") && !out.contains("NoClassDefFoundError"), out);
        assertTrue(out.contains("of(SCALAR)=SCALAR of(PANAMA)=PANAMA"), out);
    }

    /** Asks for the default twice, then for explicit implementations. */
    public static final class BadValueChild {
        public static void main(String[] args) {
            for (int i = 0; i < 2; i++) {
                try {
                    BatchNorm.get();
                    System.out.println("no error");
                } catch (RuntimeException | Error e) {
                    System.out.println(e.getClass().getSimpleName() + ": " + e.getMessage());
                }
            }
            System.out.println("of(SCALAR)=" + BatchNorm.of(Implementation.SCALAR).implementation()
                    + " of(PANAMA)=" + BatchNorm.of(Implementation.PANAMA).implementation());
        }
    }

    private static String runChild(List<String> options) throws IOException, InterruptedException {
        return runChild(options, Child.class);
    }

    /** Runs {@code main} in a fresh JVM with this JVM's class path and the given options. */
    private static String runChild(List<String> options, Class<?> main) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.addAll(options);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    /** The child JVM's program: prints what it selected and one result. */
    public static final class Child {
        public static void main(String[] args) {
            BatchNorm bn = BatchNorm.get();
            ChannelStatistics s = new ChannelStatistics(1);
            Calls.statistics(bn, TensorShape.nc(4, 1), new float[] {1, 1, 3, 3}, 0, s);
            System.out.println("selected=" + bn.implementation()
                    + " panamaAvailable=" + BatchNorm.isAvailable(Implementation.PANAMA)
                    + String.format(" mean=%.6f variance=%.6f", s.mean(0), s.variance(0)));
        }
    }
}
