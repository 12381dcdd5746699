package io.github.panamabn.bench;

import io.github.panamabn.bench.report.BenchReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import jdk.incubator.vector.FloatVector;
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
 * <p>Usage: {@code BenchSuite outputDir resultsDir [--quick] [--shapes 32x64x56x56,...]}: writes
 * {@code outputDir/benchmarks.md} and {@code .png}, and JMH's JSON under {@code resultsDir}.
 * {@code --quick} runs one short iteration each, to check the suite, not to measure.
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
        String[] shapes = KernelBenchmark.SHAPES;
        for (int i = 2; i < args.length; i++) {
            if (args[i].equals("--quick")) {
                quick = true;
            } else if (args[i].equals("--shapes") && i + 1 < args.length) {
                shapes = args[++i].split(",");
            } else {
                throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Files.createDirectories(resultsDir);
        boolean peers = onClassPath(PEERS);
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
            files.add(run(resultsDir, tag + "-panama", options(quick, 1).include(KernelBenchmark.class.getName())
                    .param("implementation", "PANAMA").param("shape", shape).addProfiler(GCProfiler.class)));
            files.add(run(resultsDir, tag + "-scalar", options(quick, 1).include(KernelBenchmark.class.getName())
                    .param("implementation", "SCALAR").param("storage", "ARRAY").param("threads", "1")
                    .param("shape", shape).addProfiler(GCProfiler.class)));
            if (peers) {
                files.add(run(resultsDir, tag + "-pytorch", options(quick, quick ? 2 : 3).include(PEERS)
                        .param("shape", shape)));
            }
        }
        // A JVM that has run a service's mix, beside a clean one: the same kernels must be as fast in both.
        files.add(run(resultsDir, "polluted", options(quick, 1).include(PollutedKernelBenchmark.class.getName())
                .param("pollutionSeconds", quick ? "2" : "20")));
        String extra = String.join(" ", Arrays.copyOfRange(args, 2, args.length));
        String heading = "Run on " + LocalDate.now() + ", " + machine() + (peers ? ", " + pytorchVersion() : "")
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

    /** CPU model, cores, JDK and vector width of this machine. */
    static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: keep the default
        }
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " cores, JDK " + Runtime.version() + ", "
                + FloatVector.SPECIES_PREFERRED.vectorBitSize() + "-bit vectors";
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
