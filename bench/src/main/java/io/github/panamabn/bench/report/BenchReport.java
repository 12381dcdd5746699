package io.github.panamabn.bench.report;

import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Gson;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.commons.math3.distribution.TDistribution;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * Turns JMH's JSON results into {@code benchmarks.md} and two charts: PANAMA against PyTorch run with
 * an allocator that keeps freed memory (its best; the default allocator's figure beside it), against the
 * memory floor (the bytes a kernel must move, timed as copies of the tensor measured in the same run at
 * that size and thread count), and against its scalar twin; the targets of the speed issue; a table per
 * kernel, shape, layout, storage and thread count; bytes allocated per call.
 *
 * <p>PyTorch's timings settle, per process, in a fast or a slow mode; with several forks the report
 * takes the fastest fork's mean, and that fork's 99.9% error, so every ratio against PyTorch is against
 * its best showing.
 *
 * <p>Usage: {@code BenchReport outputDir "heading" results.json...}; a {@code machine.json} beside the
 * first results file (written by the suite) says which machine ran them.
 */
public final class BenchReport {
    /**
     * The memory floor of each kernel in copies of the tensor (a copy reads it and writes it once): the
     * statistics read x once (timed as the read-only sum instead); two-pass training reads x twice and
     * writes y (1.5); inference reads x and writes y (1.0); backward reads x and dy twice and writes dx (2.5).
     */
    static final Map<String, Double> FLOOR_COPIES = Map.of(
            "statistics", 0.5, "forwardTraining", 1.5, "forwardInference", 1.0, "backward", 2.5);
    /** Most time per copy allowed beyond the last-level cache, per kernel (the speed issue's targets). */
    static final Map<String, Double> COPY_TARGET = Map.of(
            "forwardTraining", 1.8, "forwardInference", 1.1, "backward", 3.0);
    /** The moonshot: NCHW training forward reading x once where a channel's slab fits in L2. */
    static final double ONE_READ_TARGET = 1.3;
    /**
     * Net of JMH's own allocations and beyond what the measurement resolves (see
     * {@code Report.bytesResolution}), fewer bytes than this per call is no allocation: any object a kernel
     * allocated would be at least 16 bytes.
     */
    static final double ZERO_BYTES = 16;
    static final String[] KERNELS = {"statistics", "forwardTraining", "forwardInference", "backward"};
    /** The kernels PyTorch has as calls of their own. */
    static final String[] PEER_KERNELS = {"forwardTraining", "forwardInference", "backward"};
    /** The L2-resident shape the statistics target is measured on. */
    static final String L2_SHAPE = "8x32x14x14";

    private BenchReport() {
    }

    /** One JMH result. */
    record Result(String owner, String kernel, Map<String, String> params, int jmhThreads, double score, double error,
                  List<List<Double>> raw, double bytesPerOp, double iterationMs) {
        String param(String name) {
            return params.getOrDefault(name, "");
        }

        /** The kernel's thread count: its {@code threads} parameter, else JMH's benchmark threads. */
        int threads() {
            String t = param("threads");
            return t.isEmpty() ? jmhThreads : Integer.parseInt(t);
        }

        /** With several forks: the fastest fork's mean and 99.9% error; else this result. */
        Result fastestFork() {
            if (raw.size() < 2) {
                return this;
            }
            List<Double> best = null;
            for (List<Double> fork : raw) {
                if (best == null || mean(fork) < mean(best)) {
                    best = fork;
                }
            }
            return new Result(owner, kernel, params, jmhThreads, mean(best), error999(best), List.of(best), bytesPerOp,
                    iterationMs);
        }
    }

    static double mean(List<Double> v) {
        double s = 0;
        for (double d : v) {
            s += d;
        }
        return s / v.size();
    }

    /** Half-width of the 99.9% confidence interval of the mean, as JMH computes it. */
    static double error999(List<Double> v) {
        if (v.size() < 2) {
            return Double.NaN;
        }
        double m = mean(v);
        double ss = 0;
        for (double d : v) {
            ss += (d - m) * (d - m);
        }
        double sd = Math.sqrt(ss / (v.size() - 1));
        return new TDistribution(v.size() - 1).inverseCumulativeProbability(1 - 0.001 / 2) * sd / Math.sqrt(v.size());
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: BenchReport outputDir \"heading\" results.json...");
            System.exit(2);
        }
        List<Path> files = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            files.add(Path.of(args[i]));
        }
        Path machineFile = files.get(0).toAbsolutePath().getParent().resolve("machine.json");
        Machine machine = Files.exists(machineFile) ? Machine.read(machineFile) : Machine.current("");
        write(read(files), machine, Path.of(args[0]), args[1]);
    }

    /** Reads JMH JSON result files; a file that is not JMH's JSON is an IOException naming it. */
    @SuppressWarnings("unchecked")
    static List<Result> read(List<Path> files) throws IOException {
        List<Result> results = new ArrayList<>();
        Gson gson = new Gson();
        for (Path f : files) {
            List<Object> all;
            try {
                // Parsed strictly first: a truncated or malformed file fails here, not as a half-read list.
                all = gson.fromJson(JsonParser.parseString(Files.readString(f)), List.class);
                if (all == null) {
                    throw new IOException(f + " is empty, not JMH's JSON results");
                }
                for (Object o : all) {
                    results.add(result((Map<String, Object>) o));
                }
            } catch (JsonParseException | ClassCastException | NullPointerException e) {
                throw new IOException(f + " is not JMH's JSON results (truncated or malformed?): " + e.getMessage(), e);
            }
        }
        return results;
    }

    @SuppressWarnings("unchecked")
    private static Result result(Map<String, Object> r) {
        String benchmark = (String) r.get("benchmark");
        String cls = benchmark.substring(0, benchmark.lastIndexOf('.'));
        Map<String, String> params = new LinkedHashMap<>();
        Object p = r.get("params");
        if (p != null) {
            ((Map<String, Object>) p).forEach((k, v) -> params.put(k, String.valueOf(v)));
        }
        Map<String, Object> primary = (Map<String, Object>) r.get("primaryMetric");
        List<List<Double>> raw = new ArrayList<>();
        for (Object fork : (List<Object>) primary.get("rawData")) {
            List<Double> it = new ArrayList<>();
            for (Object v : (List<Object>) fork) {
                it.add(number(v));
            }
            raw.add(it);
        }
        double alloc = Double.NaN;
        Map<String, Object> secondary = (Map<String, Object>) r.get("secondaryMetrics");
        if (secondary != null && secondary.get("gc.alloc.rate.norm") instanceof Map<?, ?> m) {
            alloc = number(m.get("score"));
        }
        return new Result(cls.substring(cls.lastIndexOf('.') + 1), benchmark.substring(benchmark.lastIndexOf('.') + 1),
                params, ((Number) r.get("threads")).intValue(), number(primary.get("score")),
                number(primary.get("scoreError")), raw, alloc, milliseconds((String) r.get("measurementTime")));
    }

    /** JMH's "1 s", "200 ms" in milliseconds (NaN when absent). */
    static double milliseconds(String time) {
        if (time == null) {
            return Double.NaN;
        }
        String[] p = time.trim().split(" ");
        double v = Double.parseDouble(p[0]);
        return switch (p[1]) {
            case "s" -> v * 1e3;
            case "ms" -> v;
            case "us" -> v * 1e-3;
            case "min" -> v * 6e4;
            default -> Double.NaN;
        };
    }

    private static double number(Object v) {
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** Writes benchmarks.md, benchmarks.png (against PyTorch) and benchmarks-scalar.png into {@code out}. */
    static void write(List<Result> results, Machine machine, Path out, String heading) throws IOException {
        Files.createDirectories(out);
        Report r = new Report(results, machine);
        String md = heading + "\n\nMachine: " + machine.describe() + "."
                + (machine.allocator().isEmpty() ? "" : " PyTorch's tuned forks: " + machine.allocator() + ".")
                + "\n\nTimes in ms: JMH's mean ± its 99.9% error. PyTorch: the fastest of its forks, with that fork's "
                + "error. Speed-up = PyTorch's time / ours (above 1: we are faster), ± the errors carried through. "
                + "Tuned: PyTorch with an allocator that keeps freed memory, as its CPU tuning guide advises; default: "
                + "glibc's allocator as it comes, which returns each freed output to the system. Floor: the bytes the "
                + "kernel must move, timed as copies of the tensor (" + floorsText() + ") measured in the same run "
                + "at the same size and thread count (the faster of a compiled System.arraycopy, which on machines "
                + "with 64-byte vectors writes copies of 2.5 MB or more with non-temporal stores, and a vector loop, "
                + "which writes as the kernels must, reading each destination line first); time / copy is our time "
                + "over one copy's. B/op: bytes "
                + "allocated per call (JMH's gc profiler, calling thread), net of what JMH allocates itself per "
                + "iteration (" + String.format("%.0f", r.jmhBytesPerIteration()) + " bytes here, from the "
                + "allocation-free bandwidth benchmarks, give or take " + String.format("%.0f", r.jmhBytesSpread())
                + " from one iteration to the next: a call that takes t ms is resolved to that times t / iteration "
                + "time); the exact check is the build's PollutedAllocationTest.\n\n"
                + "## Targets\n\n" + r.targets() + "\n## Against PyTorch and the floor\n\n" + r.peerTable()
                + "\n![PANAMA against PyTorch](benchmarks.png)\n" + r.pollution() + "\n## All results\n\n" + r.table()
                + "\n![PANAMA against its scalar twin](benchmarks-scalar.png)\n";
        Files.writeString(out.resolve("benchmarks.md"), md);
        r.peerChart(out.resolve("benchmarks.png"));
        r.scalarChart(out.resolve("benchmarks-scalar.png"));
        System.out.println(md);
    }

    private static String floorsText() {
        return "statistics: one read, timed by a read-only sum; training 1.5 copies; inference 1.0; backward 2.5";
    }

    /** The results indexed for the report. */
    static final class Report {
        private final List<Result> results = new ArrayList<>();
        private final Machine machine;
        private final double jmhBytes;
        private final double jmhSpread;

        Report(List<Result> all, Machine machine) {
            this.machine = machine;
            for (Result r : all) {
                results.add(r.owner().equals("PyTorchBenchmark") ? r.fastestFork() : r);
            }
            // JMH allocates a few KB of its own per iteration in the benchmark thread; the bandwidth
            // benchmarks allocate nothing, so what they show per iteration is JMH's share. Only those run on
            // one JMH thread, as every kernel benchmark is (two JMH threads share other bookkeeping).
            List<Double> perIteration = new ArrayList<>();
            for (Result r : results) {
                if (r.owner().equals("MemoryBandwidthBenchmark") && r.jmhThreads() == 1
                        && !Double.isNaN(r.bytesPerOp())) {
                    perIteration.add(r.bytesPerOp() * r.iterationMs() / r.score());
                }
            }
            perIteration.sort(null);
            jmhBytes = perIteration.isEmpty() ? 0 : perIteration.get(perIteration.size() / 2);
            jmhSpread = perIteration.isEmpty() ? 0 : perIteration.getLast() - perIteration.getFirst();
        }

        double jmhBytesPerIteration() {
            return jmhBytes;
        }

        /** How much JMH's own bytes per iteration vary: the largest less the smallest. */
        double jmhBytesSpread() {
            return jmhSpread;
        }

        /** Bytes per call the kernel allocated itself: JMH's per-iteration share taken out. */
        double netBytesPerOp(Result p) {
            double share = jmhBytes * p.score() / p.iterationMs();
            return Double.isNaN(share) ? p.bytesPerOp() : p.bytesPerOp() - share;
        }

        /**
         * How finely {@link #netBytesPerOp} can tell: JMH's own share varies from iteration to iteration
         * (the spread of the bandwidth benchmarks' per-iteration bytes), and a call that takes a good part of
         * an iteration carries that spread over few calls (100 ms calls: a 400 B spread is 40 B per call).
         */
        double bytesResolution(Result p) {
            double r = jmhSpread * p.score() / p.iterationMs();
            return Double.isNaN(r) ? 0 : r;
        }

        /** What a call shows allocated beyond {@link #bytesResolution}: what the allocation target judges. */
        double unresolvedBytes(Result p) {
            return netBytesPerOp(p) - bytesResolution(p);
        }

        Result find(String owner, String kernel, String shape, String layout, String storage, String impl, int threads) {
            for (Result r : results) {
                if (r.owner().equals(owner) && r.kernel().equals(kernel) && r.param("shape").equals(shape)
                        && (layout == null || r.param("layout").equals(layout))
                        && (storage == null || r.param("storage").equals(storage))
                        && (impl == null || r.param("implementation").equals(impl))
                        && r.threads() == threads) {
                    return r;
                }
            }
            return null;
        }

        /**
         * Polluted / clean per configuration of {@code PollutedKernelBenchmark}: the kernels in a fork that
         * first ran a service's mix against a clean fork, in one run; empty when it did not run.
         */
        String pollution() {
            StringBuilder b = new StringBuilder();
            int rows = 0;
            int within = 0;
            for (Result clean : results) {
                if (!clean.owner().equals("PollutedKernelBenchmark") || !clean.param("polluted").equals("false")) {
                    continue;
                }
                for (Result dirty : results) {
                    if (dirty.owner().equals(clean.owner()) && dirty.kernel().equals(clean.kernel())
                            && dirty.param("polluted").equals("true")
                            && dirty.param("shape").equals(clean.param("shape"))
                            && dirty.param("layout").equals(clean.param("layout"))
                            && dirty.param("storage").equals(clean.param("storage"))) {
                        double q = dirty.score() / clean.score();
                        double rel = Math.hypot(dirty.error() / dirty.score(), clean.error() / clean.score());
                        rows++;
                        if (q - q * (Double.isNaN(rel) ? 0 : rel) <= 1.10) {
                            within++;
                        }
                        b.append("| ").append(clean.kernel()).append(" | ").append(clean.param("shape")).append(" | ")
                                .append(clean.param("layout")).append(" | ").append(clean.param("storage"))
                                .append(" | ").append(ms(clean)).append(" | ").append(ms(dirty)).append(" | ")
                                .append(ratio(dirty, clean)).append(" |\n");
                    }
                }
            }
            if (rows == 0) {
                return "";
            }
            return "\n## A polluted JVM beside a clean one\n\nPanama, one thread: a fork that first ran 20 s of "
                    + "every kernel, layout, storage (arrays, heap and native segments), activation and thread count "
                    + "interleaved (`Pollution`), against a clean fork, in the same run. Target: polluted within 10% "
                    + "of clean; " + within + " of " + rows + " rows are (within JMH's error).\n\n"
                    + "| kernel | shape | layout | storage | clean ms | polluted ms | polluted / clean |\n"
                    + "|---|---|---|---|---|---|---|\n" + b;
        }

        Result panama(String kernel, String shape, String layout, int threads) {
            return find("KernelBenchmark", kernel, shape, layout, "ARRAY", "PANAMA", threads);
        }

        /** PyTorch at its best (a tuned allocator), or with the default allocator. */
        Result pytorch(String kernel, String shape, String layout, int threads, boolean tuned) {
            for (Result r : results) {
                if (r.owner().equals("PyTorchBenchmark") && r.kernel().equals(kernel) && r.param("shape").equals(shape)
                        && r.param("layout").equals(layout) && r.threads() == threads
                        && r.param("allocator").equals("default") != tuned) {
                    return r;
                }
            }
            return null;
        }

        Result scalar(String kernel, String shape, String layout) {
            return find("KernelBenchmark", kernel, shape, layout, "ARRAY", "SCALAR", 1);
        }

        /**
         * The time one copy of the tensor takes at the bandwidth {@code threads} threads reach, ms (the
         * faster of System.arraycopy and a vector loop; the bandwidth benchmark runs one copy per thread at
         * once, so its time per copy is divided by the threads); NaN if not measured.
         */
        double copyMs(String shape, int threads) {
            double best = Double.NaN;
            for (String kind : new String[] {"copy", "vectorCopy"}) {
                Result r = find("MemoryBandwidthBenchmark", kind, shape, null, null, null, threads);
                if (r != null && !(r.score() >= best)) {
                    best = r.score();
                }
            }
            return best / threads;
        }

        /**
         * The time a copy by vector loads and stores takes at {@code threads} threads, ms: the pace a loop
         * that writes its output with ordinary stores can reach, where the JDK's copy writes large copies
         * with non-temporal ones; NaN if not measured.
         */
        double storeLoopCopyMs(String shape, int threads) {
            Result r = find("MemoryBandwidthBenchmark", "vectorCopy", shape, null, null, null, threads);
            return r == null ? Double.NaN : r.score() / threads;
        }

        /** The time the kernel's bytes take at the measured bandwidth, ms; NaN if not measured. */
        double floorMs(String kernel, String shape, int threads) {
            if (kernel.equals("statistics")) {
                Result sum = find("MemoryBandwidthBenchmark", "sum", shape, null, null, null, threads);
                return sum == null ? Double.NaN : sum.score() / threads;
            }
            return FLOOR_COPIES.get(kernel) * copyMs(shape, threads);
        }

        /** Whether the tensor is larger than the last-level cache (never, when its size is unknown). */
        boolean beyondLastLevelCache(String shape) {
            return machine.l3Bytes() > 0 && elements(shape) * Float.BYTES > machine.l3Bytes();
        }

        /** Whether one channel of a channels-first tensor fits in L2. */
        boolean channelFitsL2(String shape) {
            String[] d = shape.split("x");
            return machine.l2Bytes() > 0 && elements(shape) / Long.parseLong(d[1]) * Float.BYTES <= machine.l2Bytes();
        }

        /** The speed-up over tuned PyTorch of every row both ran: (row, speed-up, its error). */
        List<Object[]> peerRows() {
            List<Object[]> rows = new ArrayList<>();
            for (String kernel : PEER_KERNELS) {
                for (Result p : results) {
                    if (p.owner().equals("KernelBenchmark") && p.param("implementation").equals("PANAMA")
                            && p.param("storage").equals("ARRAY") && p.kernel().equals(kernel)) {
                        Result t = pytorch(kernel, p.param("shape"), p.param("layout"), p.threads(), true);
                        if (t != null) {
                            rows.add(new Object[] {p, t, pytorch(kernel, p.param("shape"), p.param("layout"),
                                    p.threads(), false)});
                        }
                    }
                }
            }
            return rows;
        }

        /** How many (ours, peer's) pairs are slower than the peer beyond JMH's error, and the slowest. */
        private record Slowest(int slower, double worst, String where) {
        }

        private Slowest slowest(List<Result[]> pairs) {
            int slower = 0;
            double worst = Double.POSITIVE_INFINITY;
            String where = "";
            for (Result[] pair : pairs) {
                Result p = pair[0];
                Result peer = pair[1];
                double q = peer.score() / p.score();
                double rel = Math.hypot(peer.error() / peer.score(), p.error() / p.score());
                if (q * (1 + (Double.isNaN(rel) ? 0 : rel)) < 1) {
                    slower++;
                }
                if (q < worst) {
                    worst = q;
                    where = where(p);
                }
            }
            return new Slowest(slower, worst, where);
        }

        String targets() {
            StringBuilder b = new StringBuilder("| target | where | measured | needed | met |\n|---|---|---|---|---|\n");
            List<Object[]> rows = peerRows();
            if (!rows.isEmpty()) {
                List<Result[]> tuned = new ArrayList<>();
                // A tuned allocator is not PyTorch's best everywhere: where its default-allocator fork
                // measured faster, that one is the peer at its best.
                List<Result[]> best = new ArrayList<>();
                int defaultFaster = 0;
                double logSum = 0;
                for (Object[] row : rows) {
                    Result p = (Result) row[0];
                    Result t = (Result) row[1];
                    Result d = (Result) row[2];
                    tuned.add(new Result[] {p, t});
                    boolean defaultWins = d != null && d.score() < t.score();
                    defaultFaster += defaultWins ? 1 : 0;
                    best.add(new Result[] {p, defaultWins ? d : t});
                    logSum += Math.log(t.score() / p.score());
                }
                Slowest vsTuned = slowest(tuned);
                row(b, "no kernel slower than tuned PyTorch (within JMH's error)", vsTuned.slower() + " of " + rows.size()
                        + " rows slower; worst " + vsTuned.where(), String.format("%.2fx", vsTuned.worst()), "1.0x",
                        vsTuned.slower() == 0);
                double geo = Math.exp(logSum / rows.size());
                row(b, "geometric mean of the speed-ups over tuned PyTorch", rows.size() + " rows",
                        String.format("%.2fx", geo), "1.5x", geo >= 1.5);
                Slowest vsBest = slowest(best);
                row(b, "no kernel slower than PyTorch's faster allocator (within JMH's error)", vsBest.slower() + " of "
                        + rows.size() + " rows slower (the default allocator faster in " + defaultFaster + "); worst "
                        + vsBest.where(), String.format("%.2fx", vsBest.worst()), "1.0x", vsBest.slower() == 0);
            }
            for (String kernel : PEER_KERNELS) {
                for (Result p : results) {
                    if (p.owner().equals("KernelBenchmark") && p.param("implementation").equals("PANAMA")
                            && p.param("storage").equals("ARRAY") && p.kernel().equals(kernel)
                            && beyondLastLevelCache(p.param("shape"))) {
                        double c = p.score() / copyMs(p.param("shape"), p.threads());
                        double loop = p.score() / storeLoopCopyMs(p.param("shape"), p.threads());
                        if (!Double.isNaN(c)) {
                            row(b, kernel + " vs copy, beyond the last-level cache", where(p), String.format("%.2fx", c)
                                    + (Double.isNaN(loop) ? "" : String.format(" (%.2fx a vector-loop copy)", loop)),
                                    String.format("at most %.1fx", COPY_TARGET.get(kernel)), c <= COPY_TARGET.get(kernel));
                        }
                    }
                }
            }
            for (Result p : results) {
                if (p.owner().equals("KernelBenchmark") && p.param("implementation").equals("PANAMA")
                        && p.param("storage").equals("ARRAY") && p.kernel().equals("forwardTraining")
                        && p.param("layout").equals("NCHW") && beyondLastLevelCache(p.param("shape"))
                        && channelFitsL2(p.param("shape"))) {
                    double c = p.score() / copyMs(p.param("shape"), p.threads());
                    if (!Double.isNaN(c)) {
                        row(b, "moonshot: NCHW training reading x once (a channel fits L2)", where(p),
                                String.format("%.2fx copy", c), String.format("at most %.1fx", ONE_READ_TARGET),
                                c <= ONE_READ_TARGET);
                    }
                }
            }
            for (String layout : new String[] {"NCHW", "NHWC"}) {
                Result p = panama("statistics", L2_SHAPE, layout, 1);
                Result s = scalar("statistics", L2_SHAPE, layout);
                if (p != null && s != null) {
                    row(b, "statistics vs SCALAR, L2-resident", L2_SHAPE + " " + layout + ", 1t", ratio(s, p), "8x",
                            s.score() / p.score() >= 8);
                }
            }
            // The largest allocation the measurement shows beyond its resolution (see bytesResolution).
            Result mostAt = null;
            for (Result p : results) {
                if (p.owner().equals("KernelBenchmark") && p.param("implementation").equals("PANAMA")
                        && (mostAt == null || unresolvedBytes(p) > unresolvedBytes(mostAt))) {
                    mostAt = p;
                }
            }
            if (mostAt != null) {
                double res = bytesResolution(mostAt);
                row(b, "bytes allocated per PANAMA call (net of JMH), most of any beyond what JMH resolves",
                        mostAt.kernel() + " " + mostAt.param("shape") + " " + mostAt.param("layout") + " "
                                + mostAt.param("storage").toLowerCase(Locale.ROOT) + ", " + mostAt.threads() + "t",
                        res < 0.005 ? String.format("%.2f B", netBytesPerOp(mostAt))
                                : String.format("%.2f B ± %.2f", netBytesPerOp(mostAt), res),
                        String.format("0 (< %.0f)", ZERO_BYTES), unresolvedBytes(mostAt) < ZERO_BYTES);
            }
            return b.toString();
        }

        private static String where(Result p) {
            return p.kernel() + " " + p.param("shape") + " " + p.param("layout") + ", " + p.threads() + "t";
        }

        private static void row(StringBuilder b, String what, String where, String measured, String needed,
                                boolean met) {
            b.append("| ").append(what).append(" | ").append(where).append(" | ").append(measured).append(" | ")
                    .append(needed).append(" | ").append(met ? "yes" : "**no**").append(" |\n");
        }

        /** Per row PyTorch ran: both PyTorch figures, the speed-ups, and ours against copies and the floor. */
        String peerTable() {
            List<Object[]> rows = peerRows();
            if (rows.isEmpty()) {
                return "(PyTorch did not run: the suite runs it with `-Ppeers`.)\n";
            }
            StringBuilder b = new StringBuilder("| kernel | shape | layout | threads | panama ms | PyTorch tuned ms "
                    + "| speed-up vs tuned | PyTorch default ms | speed-up vs default | time / copy | floor (copies) "
                    + "| time / floor |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (Object[] row : rows) {
                Result p = (Result) row[0];
                Result t = (Result) row[1];
                Result d = (Result) row[2];
                String shape = p.param("shape");
                double copy = copyMs(shape, p.threads());
                double floor = floorMs(p.kernel(), shape, p.threads());
                b.append(String.format("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %.1f | %s |%n", p.kernel(),
                        shape, p.param("layout"), p.threads(), ms(p), ms(t), ratio(t, p), ms(d),
                        d == null ? "–" : ratio(d, p), Double.isNaN(copy) ? "–" : String.format("%.2fx", p.score() / copy),
                        FLOOR_COPIES.get(p.kernel()), Double.isNaN(floor) ? "–" : String.format("%.2fx", p.score() / floor)));
            }
            return b.toString();
        }

        String table() {
            StringBuilder b = new StringBuilder();
            b.append("| kernel | shape | layout | storage | threads | scalar | panama | pytorch tuned | panama vs scalar"
                    + " | panama vs pytorch | time / floor | B/op |\n");
            b.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for (String kernel : KERNELS) {
                for (Result p : results) {
                    if (!p.owner().equals("KernelBenchmark") || !p.param("implementation").equals("PANAMA")
                            || !p.kernel().equals(kernel)) {
                        continue;
                    }
                    String shape = p.param("shape");
                    String layout = p.param("layout");
                    boolean array = p.param("storage").equals("ARRAY");
                    Result s = array && p.threads() == 1 ? scalar(kernel, shape, layout) : null;
                    Result t = array && !kernel.equals("statistics") ? pytorch(kernel, shape, layout, p.threads(), true)
                            : null;
                    double floor = floorMs(kernel, shape, p.threads());
                    b.append(String.format("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |%n",
                            kernel, shape, layout, p.param("storage").toLowerCase(Locale.ROOT), p.threads(), ms(s), ms(p),
                            ms(t), s == null ? "–" : ratio(s, p), t == null ? "–" : ratio(t, p),
                            Double.isNaN(floor) ? "–" : String.format("%.2fx", p.score() / floor),
                            Double.isNaN(p.bytesPerOp()) ? "–" : String.format("%.2f", netBytesPerOp(p))));
                }
            }
            return b.toString();
        }

        /** Speed-up over tuned PyTorch per row, at one and two threads: bars from 1x, slower ones to the left. */
        void peerChart(Path file) throws IOException {
            DefaultCategoryDataset data = new DefaultCategoryDataset();
            for (Object[] row : peerRows()) {
                Result p = (Result) row[0];
                Result t = (Result) row[1];
                data.addValue(t.score() / p.score(), "over tuned PyTorch, " + p.threads() + " thread"
                        + (p.threads() > 1 ? "s" : ""), p.kernel() + " " + p.param("shape") + " " + p.param("layout"));
            }
            barChart(file, "PANAMA's speed-up over PyTorch (tuned allocator); left of 1x: PyTorch is faster", data,
                    new Color[] {new Color(230, 140, 30), new Color(150, 70, 10)});
        }

        /** Speed-up over the scalar twin per kernel, shape and layout, one thread. */
        void scalarChart(Path file) throws IOException {
            DefaultCategoryDataset data = new DefaultCategoryDataset();
            for (String kernel : KERNELS) {
                for (Result p : results) {
                    if (p.owner().equals("KernelBenchmark") && p.param("implementation").equals("PANAMA")
                            && p.param("storage").equals("ARRAY") && p.threads() == 1 && p.kernel().equals(kernel)) {
                        Result s = scalar(kernel, p.param("shape"), p.param("layout"));
                        if (s != null) {
                            data.addValue(s.score() / p.score(), "over SCALAR, 1 thread",
                                    kernel + " " + p.param("shape") + " " + p.param("layout"));
                        }
                    }
                }
            }
            barChart(file, "PANAMA's speed-up over its scalar twin", data, new Color[] {new Color(30, 90, 200)});
        }

        private static void barChart(Path file, String title, DefaultCategoryDataset data, Color[] colors)
                throws IOException {
            LogAxis axis = new LogAxis("speed-up (log scale)");
            axis.setBase(2);
            axis.setTickUnit(new NumberTickUnit(1));      // a tick per power of two: 0.5x, 1x, 2x, 4x ...
            axis.setNumberFormatOverride(new DecimalFormat("0.###x"));
            axis.setSmallestValue(0.01);
            double lo = 1;
            double hi = 1;
            for (int r = 0; r < data.getRowCount(); r++) {
                for (int c = 0; c < data.getColumnCount(); c++) {
                    Number v = data.getValue(r, c);
                    if (v != null) {
                        lo = Math.min(lo, v.doubleValue());
                        hi = Math.max(hi, v.doubleValue());
                    }
                }
            }
            axis.setRange(Math.min(0.5, lo / 1.3), Math.max(2, hi * 1.3));
            BarRenderer renderer = new BarRenderer();
            renderer.setBase(1);                           // bars start at 1x: a slowdown points the other way
            renderer.setIncludeBaseInRange(true);
            renderer.setBarPainter(new StandardBarPainter());
            renderer.setShadowVisible(false);
            renderer.setDrawBarOutline(false);
            for (int i = 0; i < colors.length; i++) {
                renderer.setSeriesPaint(i, colors[i]);
            }
            renderer.setDefaultItemLabelGenerator(new org.jfree.chart.labels.StandardCategoryItemLabelGenerator(
                    "{2}", new DecimalFormat("0.00x")));
            renderer.setDefaultItemLabelsVisible(true);
            renderer.setDefaultItemLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
            CategoryAxis categories = new CategoryAxis();
            categories.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            CategoryPlot plot = new CategoryPlot(data, categories, axis, renderer);
            plot.setOrientation(PlotOrientation.HORIZONTAL);
            plot.setBackgroundPaint(Color.WHITE);
            plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
            ValueMarker one = new ValueMarker(1);
            one.setPaint(Color.RED);
            one.setStroke(new java.awt.BasicStroke(1.5f));
            plot.addRangeMarker(one);
            JFreeChart chart = new JFreeChart(null, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
            chart.setTitle(new TextTitle(title, new Font(Font.SANS_SERIF, Font.BOLD, 15)));
            chart.setBackgroundPaint(Color.WHITE);
            int height = 120 + 18 * data.getColumnCount() * Math.max(1, data.getRowCount());
            ChartUtils.saveChartAsPNG(file.toFile(), chart, 1100, height);
        }
    }

    static long elements(String shape) {
        long n = 1;
        for (String d : shape.split("x")) {
            n *= Long.parseLong(d);
        }
        return n;
    }

    private static String ms(Result r) {
        if (r == null) {
            return "–";
        }
        return Double.isNaN(r.error()) ? String.format("%.3f", r.score()) : String.format("%.3f ± %.3f", r.score(), r.error());
    }

    /** {@code slower / faster} with the relative errors of both carried through. */
    static String ratio(Result slower, Result faster) {
        double q = slower.score() / faster.score();
        double rel = Math.hypot(slower.error() / slower.score(), faster.error() / faster.score());
        return Double.isNaN(rel) ? String.format("%.2fx", q) : String.format("%.2fx ± %.2f", q, q * rel);
    }
}
