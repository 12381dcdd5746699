package io.github.panamabn.bench.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.apache.commons.math3.distribution.TDistribution;

/**
 * Turns JMH's JSON results into {@code benchmarks.md} and {@code benchmarks.png}: the performance
 * targets with their measured ratios, and a table per kernel, shape, layout, storage and thread
 * count of SCALAR, PANAMA and PyTorch times with JMH's error, the ratios, the throughput of the bytes
 * the kernel must move, that as a fraction of the bandwidth measured in the same run on the same size
 * and thread count (%-of-roofline), and the bytes allocated per call.
 *
 * <p>PyTorch's timings settle, per process, in a fast or a slow mode (the slow one up to 3.5x slower
 * here); with several forks the report takes the fastest fork's mean, and that fork's 99.9% error, so
 * every ratio against PyTorch is against its best showing.
 *
 * <p>Usage: {@code BenchReport outputDir "heading" results.json...}.
 */
public final class BenchReport {
    /** Bytes a kernel must move per element, at the least: reads and writes of 4-byte floats. */
    static final Map<String, Integer> BYTES_PER_ELEMENT = Map.of(
            "statistics", 4, "forwardTraining", 8, "forwardInference", 8, "backward", 12);
    /**
     * Net of JMH's own allocations, fewer bytes than this per call is no allocation: any object a kernel
     * allocated would be at least 16 bytes, while what is left of JMH's per-iteration share after the
     * subtraction reaches about 10 B/op on the slowest calls.
     */
    static final double ZERO_BYTES = 16;
    private static final String[] KERNELS = {"statistics", "forwardTraining", "forwardInference", "backward"};

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
        write(read(files), Path.of(args[0]), args[1]);
    }

    /** Reads JMH JSON result files. */
    @SuppressWarnings("unchecked")
    static List<Result> read(List<Path> files) throws IOException {
        List<Result> results = new ArrayList<>();
        for (Path f : files) {
            for (Object o : (List<Object>) Json.parse(Files.readString(f))) {
                Map<String, Object> r = (Map<String, Object>) o;
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
                results.add(new Result(cls.substring(cls.lastIndexOf('.') + 1),
                        benchmark.substring(benchmark.lastIndexOf('.') + 1), params,
                        ((Number) r.get("threads")).intValue(), number(primary.get("score")),
                        number(primary.get("scoreError")), raw, alloc, milliseconds((String) r.get("measurementTime"))));
            }
        }
        return results;
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

    /** Writes benchmarks.md and benchmarks.png into {@code out}. */
    static void write(List<Result> results, Path out, String heading) throws IOException {
        Files.createDirectories(out);
        Report r = new Report(results);
        String md = heading + "\n\n"
                + "Times in ms: JMH's mean ± its 99.9% error. PyTorch: the fastest of its forks, with that fork's "
                + "error (its timings settle per process in a fast or a slow mode, up to 3.5x apart here). "
                + "Ratios are times divided, ± the errors carried through. GB/s: the bytes the kernel must move "
                + "(statistics reads x; forward reads x and writes y; backward reads x and dy and writes dx) per "
                + "second; % of roofline: that against the read (statistics) or copy bandwidth measured in the same "
                + "run on buffers of the same size with the same number of threads. B/op: bytes allocated per call "
                + "(JMH's gc profiler, calling thread), net of what JMH allocates itself in each iteration, which "
                + "the allocation-free bandwidth benchmarks show (" + String.format("%.0f", r.jmhBytesPerIteration())
                + " bytes per iteration here). That share differs between forks by several hundred bytes per "
                + "iteration, up to about 10 B/op for a kernel that runs 75 calls per iteration, and it shrinks as "
                + "iterations lengthen; a kernel that allocated on every call would show at least 16 B/op, the "
                + "smallest object. The exact check is the build's PollutedAllocationTest, which counts the calling "
                + "thread's and the workers' bytes over hundreds of calls.\n\n"
                + "## Targets\n\n" + r.targets() + r.pollution() + "\n## All results\n\n" + r.table() + "\n![speed-ups](benchmarks.png)\n";
        Files.writeString(out.resolve("benchmarks.md"), md);
        r.chart(out.resolve("benchmarks.png"));
        System.out.println(md);
    }

    /** The results indexed for the report. */
    static final class Report {
        private final List<Result> results = new ArrayList<>();
        private final double jmhBytes;

        Report(List<Result> all) {
            for (Result r : all) {
                results.add(r.owner().equals("PyTorchBenchmark") ? r.fastestFork() : r);
            }
            // JMH allocates a few KB of its own per iteration in the benchmark thread; the bandwidth
            // benchmarks allocate nothing, so what they show per iteration is JMH's share.
            List<Double> perIteration = new ArrayList<>();
            for (Result r : results) {
                if (r.owner().equals("MemoryBandwidthBenchmark") && !Double.isNaN(r.bytesPerOp())) {
                    perIteration.add(r.bytesPerOp() * r.iterationMs() / r.score());
                }
            }
            perIteration.sort(null);
            jmhBytes = perIteration.isEmpty() ? 0 : perIteration.get(perIteration.size() / 2);
        }

        double jmhBytesPerIteration() {
            return jmhBytes;
        }

        /** Bytes per call the kernel allocated itself: JMH's per-iteration share taken out. */
        double netBytesPerOp(Result p) {
            double share = jmhBytes * p.score() / p.iterationMs();
            return Double.isNaN(share) ? p.bytesPerOp() : p.bytesPerOp() - share;
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

        Result pytorch(String kernel, String shape, String layout, int threads) {
            return find("PyTorchBenchmark", kernel, shape, layout, null, null, threads);
        }

        Result scalar(String kernel, String shape, String layout) {
            return find("KernelBenchmark", kernel, shape, layout, "ARRAY", "SCALAR", 1);
        }

        /** Bytes per second the machine moved in the same run: read-only, or copy (the faster copy). */
        double bandwidth(String shape, boolean readOnly, int threads) {
            double bytes = elements(shape) * (readOnly ? 4.0 : 8.0) * threads;
            double best = Double.NaN;
            for (String kind : readOnly ? new String[] {"sum"} : new String[] {"copy", "vectorCopy"}) {
                Result r = find("MemoryBandwidthBenchmark", kind, shape, null, null, null, threads);
                if (r != null) {
                    double bw = bytes / (r.score() * 1e-3);
                    best = Double.isNaN(best) ? bw : Math.max(best, bw);
                }
            }
            return best;
        }

        /** The kernel's throughput of the bytes it must move, as a fraction of the measured bandwidth. */
        double roofline(Result p) {
            double gbs = bytesPerSecond(p);
            return gbs / bandwidth(p.param("shape"), p.kernel().equals("statistics"), p.threads());
        }

        String targets() {
            StringBuilder b = new StringBuilder("| target | where | measured | needed | met |\n|---|---|---|---|---|\n");
            String[] big = {"32x64x56x56", "64x64x56x56"};
            for (String shape : big) {
                ratioTarget(b, "forward training NCHW vs PyTorch, 1 thread", "forwardTraining", shape, "NCHW", 1, 4);
                ratioTarget(b, "forward training NCHW vs PyTorch, 2 threads", "forwardTraining", shape, "NCHW", 2, 3);
            }
            for (String shape : big) {
                for (int t = 1; t <= 2; t++) {
                    ratioTarget(b, "forward training NHWC vs PyTorch, " + t + " thread" + (t > 1 ? "s" : ""),
                            "forwardTraining", shape, "NHWC", t, 1.3);
                }
            }
            for (String shape : big) {
                for (int t = 1; t <= 2; t++) {
                    ratioTarget(b, "backward NCHW vs PyTorch", "backward", shape, "NCHW", t, 1.8);
                    ratioTarget(b, "backward NHWC vs PyTorch (not slower)", "backward", shape, "NHWC", t, 1.0);
                }
            }
            for (String layout : new String[] {"NCHW", "NHWC"}) {
                for (int t = 1; t <= 2; t++) {
                    Result p = panama("forwardInference", "64x64x56x56", layout, t);
                    if (p != null) {
                        double f = roofline(p);
                        row(b, "forward inference vs copy bandwidth", "64x64x56x56 " + layout + ", " + t + "t",
                                String.format("%.2fx", f), "0.90x", f >= 0.9);
                    }
                }
            }
            double worst = Double.POSITIVE_INFINITY;
            String where = "–";
            for (Result p : results) {
                if (p.owner().equals("KernelBenchmark") && p.kernel().equals("forwardInference")
                        && p.param("implementation").equals("PANAMA") && p.param("storage").equals("ARRAY")) {
                    Result t = pytorch("forwardInference", p.param("shape"), p.param("layout"), p.threads());
                    if (t != null && t.score() / p.score() < worst) {
                        worst = t.score() / p.score();
                        where = p.param("shape") + " " + p.param("layout") + ", " + p.threads() + "t";
                    }
                }
            }
            if (worst != Double.POSITIVE_INFINITY) {
                row(b, "forward inference vs PyTorch, worst shape", where, String.format("%.2fx", worst), "1.00x",
                        worst >= 1);
            }
            for (String layout : new String[] {"NCHW", "NHWC"}) {
                Result p = panama("statistics", L2_SHAPE, layout, 1);
                Result s = scalar("statistics", L2_SHAPE, layout);
                if (p != null && s != null) {
                    row(b, "statistics vs SCALAR, L2-resident", L2_SHAPE + " " + layout + ", 1t", ratio(s, p), "8x",
                            s.score() / p.score() >= 8);
                }
            }
            double most = Double.NEGATIVE_INFINITY;
            String allocWhere = "–";
            for (Result p : results) {
                if (p.owner().equals("KernelBenchmark") && p.param("implementation").equals("PANAMA")
                        && netBytesPerOp(p) > most) {
                    most = netBytesPerOp(p);
                    allocWhere = p.kernel() + " " + p.param("shape") + " " + p.param("layout") + " "
                            + p.param("storage").toLowerCase(Locale.ROOT) + ", " + p.threads() + "t";
                }
            }
            if (most != Double.NEGATIVE_INFINITY) {
                row(b, "bytes allocated per PANAMA call (net of JMH), most of any", allocWhere,
                        String.format("%.2f B", most), String.format("0 (< %.0f)", ZERO_BYTES), most < ZERO_BYTES);
            }
            return b.toString();
        }

        private void ratioTarget(StringBuilder b, String what, String kernel, String shape, String layout, int threads,
                                 double needed) {
            Result p = panama(kernel, shape, layout, threads);
            Result t = pytorch(kernel, shape, layout, threads);
            if (p != null && t != null) {
                row(b, what, shape + " " + layout + ", " + threads + "t", ratio(t, p),
                        String.format("%.1fx", needed), t.score() / p.score() >= needed);
            }
        }

        private static void row(StringBuilder b, String what, String where, String measured, String needed,
                                boolean met) {
            b.append("| ").append(what).append(" | ").append(where).append(" | ").append(measured).append(" | ")
                    .append(needed).append(" | ").append(met ? "yes" : "**no**").append(" |\n");
        }

        String table() {
            StringBuilder b = new StringBuilder();
            b.append("| kernel | shape | layout | storage | threads | scalar | panama | pytorch | panama vs scalar"
                    + " | panama vs pytorch | panama GB/s | % of roofline | B/op |\n");
            b.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
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
                    Result t = array ? pytorch(kernel, shape, layout, p.threads()) : null;
                    double roof = roofline(p);
                    b.append(String.format("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %.1f | %s | %s |%n",
                            kernel, shape, layout, p.param("storage").toLowerCase(Locale.ROOT), p.threads(), ms(s), ms(p),
                            ms(t), s == null ? "–" : ratio(s, p), t == null ? "–" : ratio(t, p),
                            bytesPerSecond(p) / 1e9, Double.isNaN(roof) ? "–" : String.format("%.0f%%", 100 * roof),
                            Double.isNaN(p.bytesPerOp()) ? "–" : String.format("%.2f", netBytesPerOp(p))));
                }
            }
            return b.toString();
        }

        /**
         * Bars per kernel, shape and layout on arrays: PANAMA's speed-up over PyTorch at one and two threads,
         * and over SCALAR at one.
         */
        void chart(Path file) throws IOException {
            List<String> labels = new ArrayList<>();
            List<double[]> values = new ArrayList<>();
            for (String kernel : KERNELS) {
                for (Result p : results) {
                    if (!p.owner().equals("KernelBenchmark") || !p.param("implementation").equals("PANAMA")
                            || !p.param("storage").equals("ARRAY") || p.threads() != 1 || !p.kernel().equals(kernel)) {
                        continue;
                    }
                    String shape = p.param("shape");
                    String layout = p.param("layout");
                    Result p2 = panama(kernel, shape, layout, 2);
                    Result t1 = pytorch(kernel, shape, layout, 1);
                    Result t2 = pytorch(kernel, shape, layout, 2);
                    Result s = scalar(kernel, shape, layout);
                    labels.add(kernel + " " + shape + " " + layout);
                    values.add(new double[] {
                        t1 == null ? 0 : t1.score() / p.score(),
                        t2 == null || p2 == null ? 0 : t2.score() / p2.score(),
                        s == null ? 0 : s.score() / p.score()});
                }
            }
            Color[] colors = {new Color(240, 150, 40), new Color(190, 90, 20), new Color(30, 90, 200)};
            int rowH = 34;
            int left = 300;
            int width = 1100;
            int height = 90 + rowH * Math.max(1, labels.size());
            double max = 2;
            for (double[] v : values) {
                for (double d : v) {
                    max = Math.max(max, d);
                }
            }
            double scale = (width - left - 90) / Math.log(max * 1.5);
            int origin = left + (int) (scale * Math.log(1.5)); // the 1x line; bars start at 1/1.5x
            BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
            g.drawString("PANAMA speed-up, log scale (red line: 1x)", 20, 24);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            String[] legend = {"over PyTorch, 1 thread", "over PyTorch, 2 threads", "over SCALAR, 1 thread"};
            for (int i = 0; i < 3; i++) {
                g.setColor(colors[i]);
                g.fillRect(20 + i * 220, 36, 12, 12);
                g.setColor(Color.BLACK);
                g.drawString(legend[i], 38 + i * 220, 47);
            }
            for (int i = 0; i < labels.size(); i++) {
                int y = 64 + i * rowH;
                g.setColor(Color.DARK_GRAY);
                g.drawString(labels.get(i), 10, y + 18);
                double[] v = values.get(i);
                for (int k = 0; k < 3; k++) {
                    if (v[k] <= 0) {
                        continue;
                    }
                    int x = left + (int) (scale * Math.log(v[k] * 1.5));
                    g.setColor(colors[k]);
                    g.fillRect(left, y + 2 + 10 * k, Math.max(1, x - left), 9);
                    g.setColor(Color.BLACK);
                    g.drawString(String.format("%.2fx", v[k]), x + 4, y + 11 + 10 * k);
                }
            }
            g.setColor(Color.RED);
            g.setStroke(new BasicStroke(1.5f));
            g.drawLine(origin, 56, origin, height - 10);
            g.dispose();
            ImageIO.write(img, "png", file.toFile());
        }
    }

    /** The L2-resident shape the statistics target is measured on. */
    static final String L2_SHAPE = "8x32x14x14";

    static double bytesPerSecond(Result p) {
        return elements(p.param("shape")) * BYTES_PER_ELEMENT.getOrDefault(p.kernel(), 8) / (p.score() * 1e-3);
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
