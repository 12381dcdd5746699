package io.github.panamabn.bench;

import io.github.panamabn.bench.report.BenchReport;
import io.github.panamabn.bench.report.Machine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The whole suite in one run, then its report, shape by shape: the memory-bandwidth references at one
 * and two threads; PANAMA over every layout, storage and thread count; SCALAR on arrays at one thread
 * (what its ratio to PANAMA needs, and it is slow); and PyTorch, when the peers' benchmarks are on the
 * class path, with three forks each, because its timings settle per process in a fast or a slow mode
 * and the report compares against the fastest. Everything runs under JMH's gc profiler but PyTorch.
 *
 * <p>PyTorch runs at its best: its forks start with an allocator that keeps freed memory (jemalloc or
 * tcmalloc preloaded when the machine has one, as PyTorch's CPU tuning guide advises; else glibc told by
 * {@code MALLOC_MMAP_THRESHOLD_} and {@code MALLOC_TRIM_THRESHOLD_} to keep it), and once more, in one
 * fork, with the default allocator, for the figure beside it. The forks' JVM is a script that sets
 * the environment and starts this JVM's java; PyTorch's setup checks the allocator it got.
 *
 * <p>Usage: {@code BenchSuite outputDir resultsDir [--quick] [--shapes 32x64x56x56,...] [--arrays-only]
 * [--no-pollution] [--peer-forks n]}:
 * writes {@code outputDir/benchmarks.md} and its charts, and JMH's JSON and {@code machine.json} under
 * {@code resultsDir}. {@code --quick} runs one short iteration each, to check the suite, not to measure;
 * {@code --arrays-only} leaves out native segments (the targets are on arrays); {@code --no-pollution} the
 * polluted-against-clean comparison (45 minutes); {@code --peer-forks} sets PyTorch's tuned forks (3).
 */
public final class BenchSuite {
    private static final String PEERS = "io.github.panamabn.bench.peers.PyTorchBenchmark";

    private BenchSuite() {
    }

    public static void main(String[] args) throws IOException, RunnerException {
        Locale.setDefault(Locale.ROOT);
        if (args.length < 2) {
            System.err.println("usage: BenchSuite outputDir resultsDir [--quick] [--shapes a,b,...]");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        Path resultsDir = Path.of(args[1]);
        boolean quick = false;
        boolean arraysOnly = false;
        boolean pollution = true;
        int peerForks = 3;
        String[] shapes = KernelBenchmark.SHAPES;
        for (int i = 2; i < args.length; i++) {
            if (args[i].equals("--quick")) {
                quick = true;
            } else if (args[i].equals("--arrays-only")) {
                arraysOnly = true;
            } else if (args[i].equals("--no-pollution")) {
                pollution = false;
            } else if (args[i].equals("--peer-forks") && i + 1 < args.length) {
                peerForks = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--shapes") && i + 1 < args.length) {
                shapes = args[++i].split(",");
            } else {
                throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Files.createDirectories(resultsDir);
        boolean peers = onClassPath(PEERS);
        Allocator tuned = Allocator.tuned();
        Allocator plain = Allocator.DEFAULT;
        Path tunedJvm = tuned.launcher(resultsDir);
        Path plainJvm = plain.launcher(resultsDir);
        Machine.current(peers ? tuned.description() : "").write(resultsDir.resolve("machine.json"));
        List<Path> files = new ArrayList<>();
        // Shape by shape, so that every ratio compares measurements taken minutes apart, not hours: the
        // machine is shared, and its speed drifts over a run.
        for (String shape : shapes) {
            String tag = shape.replace('x', '_');
            for (int threads = 1; threads <= 2; threads++) {
                files.add(run(resultsDir, tag + "-bandwidth-" + threads, options(quick, 1)
                        .include(MemoryBandwidthBenchmark.class.getName()).threads(threads).param("shape", shape)
                        .addProfiler(GCProfiler.class)));
            }
            ChainedOptionsBuilder panama = options(quick, 1).include(KernelBenchmark.class.getName())
                    .param("implementation", "PANAMA").param("shape", shape).addProfiler(GCProfiler.class);
            files.add(run(resultsDir, tag + "-panama", arraysOnly ? panama.param("storage", "ARRAY") : panama));
            files.add(run(resultsDir, tag + "-scalar", options(quick, 1).include(KernelBenchmark.class.getName())
                    .param("implementation", "SCALAR").param("storage", "ARRAY").param("threads", "1")
                    .param("shape", shape).addProfiler(GCProfiler.class)));
            if (peers) {
                files.add(run(resultsDir, tag + "-pytorch", options(quick, quick ? 2 : peerForks).include(PEERS)
                        .param("shape", shape).param("allocator", tuned.name()).jvm(tunedJvm.toString())));
                files.add(run(resultsDir, tag + "-pytorch-default", options(quick, 1).include(PEERS)
                        .param("shape", shape).param("allocator", plain.name()).jvm(plainJvm.toString())));
            }
        }
        // A JVM that has run a service's mix, beside a clean one: the same kernels must be as fast in both.
        if (pollution) {
            files.add(run(resultsDir, "polluted", options(quick, 1).include(PollutedKernelBenchmark.class.getName())
                    .param("pollutionSeconds", quick ? "2" : "20")));
        }
        String extra = String.join(" ", Arrays.copyOfRange(args, 2, args.length));
        String heading = "Run on " + LocalDate.now() + (peers ? ", " + pytorchVersion() : "")
                + ". The suite: `" + (peers ? "mvn -B -q -DskipTests -Pbench,peers verify" : "mvn -B -q -DskipTests -Pbench verify")
                + (extra.isEmpty() ? "" : " -Dbench.args=\"" + extra + "\"") + "`"
                + (quick ? " (quick mode: one short iteration, not a measurement)" : "") + ".";
        BenchReport.main(concat(out.toString(), heading, files));
    }

    private static ChainedOptionsBuilder options(boolean quick, int forks) {
        ChainedOptionsBuilder o = new OptionsBuilder().forks(forks).shouldFailOnError(true);
        if (quick) {
            return o.warmupIterations(1).warmupTime(TimeValue.milliseconds(200)).measurementIterations(2)
                    .measurementTime(TimeValue.milliseconds(200));
        }
        return o.warmupIterations(3).warmupTime(TimeValue.seconds(1)).measurementIterations(5)
                .measurementTime(TimeValue.seconds(1));
    }

    private static Path run(Path dir, String name, ChainedOptionsBuilder options) throws RunnerException {
        Path file = dir.resolve(name + ".json");
        new Runner(options.resultFormat(ResultFormatType.JSON).result(file.toString()).build()).run();
        return file;
    }

    private static boolean onClassPath(String name) {
        try {
            Class.forName(name, false, BenchSuite.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    /** The peers' version line, asked of the peers module without a compile-time dependency on it. */
    private static String pytorchVersion() {
        try {
            return (String) Class.forName(PEERS).getMethod("version").invoke(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "PyTorch";
        }
    }

    private static String[] concat(String a, String b, List<Path> rest) {
        String[] all = new String[rest.size() + 2];
        all[0] = a;
        all[1] = b;
        for (int i = 0; i < rest.size(); i++) {
            all[i + 2] = rest.get(i).toString();
        }
        return all;
    }
}
