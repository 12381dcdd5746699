package io.github.panamabn.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The C allocator a peer's forks run with, as the environment of their JVM: jemalloc or tcmalloc
 * preloaded, glibc's thresholds raised so that freed memory is kept, or glibc as it comes. PyTorch's CPU
 * performance tuning guide runs it with jemalloc or tcmalloc; without one a freed 25 MB output goes back
 * to the system and each call page-faults a fresh one.
 *
 * @param name what the report and the benchmark's {@code allocator} parameter call it
 * @param environment the variables the fork's JVM starts with
 */
public record Allocator(String name, Map<String, String> environment) {
    /** glibc's malloc as it comes. */
    static final Allocator DEFAULT = new Allocator("default", Map.of());

    /** Where Debian and others put the libraries ({@code libjemalloc2}, {@code libtcmalloc-minimal4}). */
    private static final List<String> LIBRARY_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/usr/lib", "/usr/local/lib");

    /**
     * The best this machine has: jemalloc, else tcmalloc, else glibc's thresholds (1 GiB before a block is
     * mmap'ed, 4 GiB before the heap is trimmed), the settings that keep freed memory in the process.
     */
    static Allocator tuned() {
        for (String[] lib : new String[][] {{"jemalloc", "libjemalloc.so.2"}, {"tcmalloc", "libtcmalloc_minimal.so.4"},
                {"tcmalloc", "libtcmalloc.so.4"}}) {
            for (String dir : LIBRARY_DIRS) {
                Path p = Path.of(dir, lib[1]);
                if (Files.isReadable(p)) {
                    return new Allocator(lib[0], Map.of("LD_PRELOAD", p.toString()));
                }
            }
        }
        System.out.println("# no jemalloc or tcmalloc found (Debian: apt-get install libjemalloc2); PyTorch runs "
                + "with glibc's thresholds raised instead");
        Map<String, String> env = new LinkedHashMap<>();
        env.put("MALLOC_MMAP_THRESHOLD_", "1073741824");
        env.put("MALLOC_TRIM_THRESHOLD_", "4294967296");
        return new Allocator("glibc-keep", env);
    }

    /** For the report's heading. */
    String description() {
        return switch (name) {
            case "jemalloc", "tcmalloc" -> name + " (LD_PRELOAD=" + environment.get("LD_PRELOAD") + ")";
            case "glibc-keep" -> "glibc with MALLOC_MMAP_THRESHOLD_=" + environment.get("MALLOC_MMAP_THRESHOLD_")
                    + " and MALLOC_TRIM_THRESHOLD_=" + environment.get("MALLOC_TRIM_THRESHOLD_");
            default -> "glibc's default allocator";
        };
    }

    /**
     * A script in {@code dir} that starts this JVM's java with the environment: JMH's {@code jvm} option for
     * the forks. The default clears what this one sets, so the forks get it whatever ran the suite.
     */
    Path launcher(Path dir) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        StringBuilder s = new StringBuilder("#!/bin/sh\nunset LD_PRELOAD MALLOC_MMAP_THRESHOLD_ MALLOC_TRIM_THRESHOLD_\n");
        environment.forEach((k, v) -> s.append("export ").append(k).append("='").append(v).append("'\n"));
        s.append("exec '").append(java).append("' \"$@\"\n");
        Path script = dir.resolve("java-" + name + ".sh");
        Files.writeString(script, s);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script.toAbsolutePath();
    }

    /**
     * Throws unless this process runs with the allocator {@code name} (checked in a PyTorch fork, so the
     * report's label is what ran): the library mapped, or the thresholds set, or neither.
     */
    public static void check(String name) {
        String maps;
        try {
            maps = Files.readString(Path.of("/proc/self/maps"));
        } catch (IOException e) {
            return; // not Linux: nothing to check against
        }
        boolean jemalloc = maps.contains("libjemalloc");
        boolean tcmalloc = maps.contains("libtcmalloc");
        boolean thresholds = System.getenv("MALLOC_MMAP_THRESHOLD_") != null;
        boolean ok = switch (name) {
            case "jemalloc" -> jemalloc;
            case "tcmalloc" -> tcmalloc;
            case "glibc-keep" -> thresholds && !jemalloc && !tcmalloc;
            case "default" -> !thresholds && !jemalloc && !tcmalloc;
            default -> false;
        };
        if (!ok) {
            throw new IllegalStateException("this fork should run with allocator '" + name + "' but has jemalloc "
                    + jemalloc + ", tcmalloc " + tcmalloc + ", glibc thresholds " + thresholds
                    + ": start it through the suite's launcher");
        }
    }
}
