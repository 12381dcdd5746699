package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The separate user's project in {@code consumer/}, compiled against the kernels and nn jars this build
 * packaged (not their classes directories) and run in a fresh JVM on the module path and on the class
 * path: what a dependent project sees, exports and module descriptors included. ({@code consumer/run.sh}
 * does the same through Maven with the installed jars.)
 */
class ConsumerProjectTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private static Path jar(String module) throws IOException {
        Path target = ROOT.resolve(module).resolve("target");
        List<Path> jars = new ArrayList<>();
        if (Files.isDirectory(target)) {
            try (Stream<Path> s = Files.list(target)) {
                s.filter(p -> p.getFileName().toString().matches("panama-bn-" + module + "-[0-9][^/]*(?<!sources|javadoc)\\.jar"))
                        .forEach(jars::add);
            }
        }
        Assumptions.assumeTrue(jars.size() == 1, "needs " + module + "/target's jar, which `mvn verify` from the "
                + "repository root packages before this module's tests; found " + jars);
        return jars.get(0);
    }

    @Test
    void runsOnTheModulePathAndOnTheClassPath(@TempDir Path dir) throws Exception {
        String jars = jar("kernels") + java.io.File.pathSeparator + jar("nn");
        Path classes = dir.resolve("classes");
        List<String> args = new ArrayList<>(List.of("--release", "25", "-d", classes.toString(),
                "--module-path", jars));
        try (Stream<Path> s = Files.walk(ROOT.resolve("consumer/src/main/java"))) {
            s.filter(p -> p.toString().endsWith(".java")).forEach(p -> args.add(p.toString()));
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertEquals(0, javac.run(null, null, null, args.toArray(String[]::new)), "the consumer compiles");

        String path = classes + java.io.File.pathSeparator + jars;
        String onModulePath = run(List.of("--module-path", path, "-m",
                "io.github.panamabn.consumer/io.github.panamabn.consumer.Main"));
        assertTrue(onModulePath.contains("consumer on the module path: kernels PANAMA, round trip identical"),
                onModulePath);
        String onClassPath = run(List.of("-cp", path, "io.github.panamabn.consumer.Main"));
        assertTrue(onClassPath.contains("consumer on the class path: kernels PANAMA, round trip identical"),
                onClassPath);
    }

    private static String run(List<String> args) throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector"));
        command.addAll(args);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "the consumer exits 0:\n" + out);
        return out;
    }
}
