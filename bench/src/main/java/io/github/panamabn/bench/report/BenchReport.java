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
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Turns a JMH result file ({@code -rf csv}: the same fields as JSON, and no JSON library needed) into
 * a Markdown table and a PNG chart: per kernel, shape, layout and storage, SCALAR and PANAMA times with
 * JMH's error, PyTorch's when the peers ran, the ratios, the throughput in GB/s of the bytes the kernel
 * must move, and that as a fraction of the copy (or, for statistics, read-only sum) bandwidth
 * measured in the same run on the same size.
 *
 * <p>Usage: {@code BenchReport results.csv outputDir [machine description]}.
 */
public final class BenchReport {
    /** Bytes a kernel must move per element, at the least: reads and writes of 4-byte floats. */
    static final Map<String, Integer> BYTES_PER_ELEMENT = Map.of(
            "statistics", 4, "forwardTraining", 8, "forwardInference", 8, "backward", 12);

    private BenchReport() {
    }

    /** One JMH result row. */
    record Row(String benchmark, double score, double error, String unit, Map<String, String> params) {
        String kernel() {
            return benchmark.substring(benchmark.lastIndexOf('.') + 1);
        }

        String owner() {
            String cls = benchmark.substring(0, benchmark.lastIndexOf('.'));
            return cls.substring(cls.lastIndexOf('.') + 1);
        }

        String param(String name) {
            return params.getOrDefault(name, "");
        }
    }

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        if (args.length < 2) {
            System.err.println("usage: BenchReport results.csv outputDir [machine description]");
            System.exit(2);
        }
        List<Row> rows = read(Path.of(args[0]));
        Path out = Path.of(args[1]);
        Files.createDirectories(out);
        String machine = args.length > 2 ? args[2] : machine();
        String table = table(rows);
        Files.writeString(out.resolve("benchmarks.md"), "Run on " + LocalDate.now() + (machine.isEmpty() ? "" : ", " + machine)
                + ". Times in ms (mean ± JMH 99.9% error).\n\n" + table + "\n![speed-ups](benchmarks.png)\n");
        chart(rows, out.resolve("benchmarks.png"));
        System.out.println(table);
    }

    /** CPU model, cores and JDK of this machine, for the report's heading. */
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
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " cores, JDK " + Runtime.version();
    }

    static List<Row> read(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv);
        List<String> header = split(lines.get(0));
        List<Row> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            List<String> f = split(line);
            Map<String, String> params = new LinkedHashMap<>();
            for (int i = 0; i < header.size(); i++) {
                if (header.get(i).startsWith("Param: ") && i < f.size()) {
                    params.put(header.get(i).substring(7), f.get(i));
                }
            }
            double error = parse(f.get(header.indexOf("Score Error (99.9%)")));
            rows.add(new Row(f.get(header.indexOf("Benchmark")), parse(f.get(header.indexOf("Score"))), error,
                    f.get(header.indexOf("Unit")), params));
        }
        return rows;
    }

    private static double parse(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** CSV fields, quoted or not. */
    static List<String> split(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        out.add(cur.toString());
        return out;
    }

    private static long elements(String shape) {
        long n = 1;
        for (String d : shape.split("x")) {
            n *= Long.parseLong(d);
        }
        return n;
    }

    private static Row find(List<Row> rows, String owner, String kernel, String shape, String layout, String storage,
                            String impl) {
        for (Row r : rows) {
            if (r.owner().equals(owner) && r.kernel().equals(kernel) && r.param("shape").equals(shape)
                    && (layout == null || r.param("layout").equals(layout))
                    && (storage == null || r.param("storage").equals(storage))
                    && (impl == null || r.param("implementation").equals(impl))) {
                return r;
            }
        }
        return null;
    }

    private static String ms(Row r) {
        if (r == null) {
            return "–";
        }
        return Double.isNaN(r.error()) ? String.format("%.3f", r.score()) : String.format("%.3f ± %.3f", r.score(), r.error());
    }

    static String table(List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append("| kernel | shape | layout | storage | threads | scalar | panama | pytorch | panama vs scalar"
                + " | panama vs pytorch | panama GB/s | % of roofline |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row p : rows) {
            if (!p.owner().equals("KernelBenchmark") || !p.param("implementation").equals("PANAMA")) {
                continue;
            }
            String shape = p.param("shape");
            String layout = p.param("layout");
            String storage = p.param("storage");
            Row s = find(rows, "KernelBenchmark", p.kernel(), shape, layout, storage, "SCALAR");
            Row t = storage.equals("ARRAY") ? find(rows, "PyTorchBenchmark", p.kernel(), shape, layout, null, null) : null;
            Row limit = find(rows, "MemoryBandwidthBenchmark", p.kernel().equals("statistics") ? "sum" : "copy", shape,
                    null, null, null);
            double bytes = elements(shape) * BYTES_PER_ELEMENT.getOrDefault(p.kernel(), 8);
            double gbs = bytes / (p.score() * 1e-3) / 1e9;
            String roofline = "–";
            if (limit != null) {
                double limitBytes = elements(shape) * (p.kernel().equals("statistics") ? 4 : 8);
                double limitGbs = limitBytes / (limit.score() * 1e-3) / 1e9;
                roofline = String.format("%.0f%% of %.1f GB/s", 100 * gbs / limitGbs, limitGbs);
            }
            b.append(String.format("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f | %s |%n", p.kernel(), shape,
                    layout, storage.toLowerCase(Locale.ROOT), p.param("threads").isEmpty() ? "1" : p.param("threads"),
                    ms(s), ms(p), ms(t), s == null ? "–" : String.format("%.1fx", s.score() / p.score()),
                    t == null ? "–" : String.format("%.2fx", t.score() / p.score()), gbs, roofline));
        }
        return b.toString();
    }

    /** Bars of PANAMA's speed-up over SCALAR and over PyTorch, per kernel, shape and layout (array storage). */
    static void chart(List<Row> rows, Path file) throws IOException {
        List<String> labels = new ArrayList<>();
        List<double[]> values = new ArrayList<>();
        for (Row p : rows) {
            if (!p.owner().equals("KernelBenchmark") || !p.param("implementation").equals("PANAMA")
                    || !p.param("storage").equals("ARRAY")) {
                continue;
            }
            Row s = find(rows, "KernelBenchmark", p.kernel(), p.param("shape"), p.param("layout"), "ARRAY", "SCALAR");
            Row t = find(rows, "PyTorchBenchmark", p.kernel(), p.param("shape"), p.param("layout"), null, null);
            labels.add(p.kernel() + " " + p.param("shape") + " " + p.param("layout"));
            values.add(new double[] {s == null ? 0 : s.score() / p.score(), t == null ? 0 : t.score() / p.score()});
        }
        int rowH = 26;
        int left = 330;
        int width = 1000;
        int height = 80 + rowH * Math.max(1, labels.size());
        double max = 1;
        for (double[] v : values) {
            max = Math.max(max, Math.max(v[0], v[1]));
        }
        double scale = (width - left - 60) / Math.log1p(max);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString("PANAMA speed-up (log scale): blue over SCALAR, orange over PyTorch; the line is 1x", 20, 28);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int one = left + (int) (scale * Math.log1p(1));
        for (int i = 0; i < labels.size(); i++) {
            int y = 50 + i * rowH;
            g.setColor(Color.DARK_GRAY);
            g.drawString(labels.get(i), 10, y + 14);
            double[] v = values.get(i);
            g.setColor(new Color(30, 90, 200));
            g.fillRect(left, y + 2, (int) (scale * Math.log1p(v[0])), 10);
            g.setColor(new Color(240, 150, 40));
            g.fillRect(left, y + 13, (int) (scale * Math.log1p(v[1])), 10);
            g.setColor(Color.BLACK);
            g.drawString(String.format("%.1fx%s", v[0], v[1] > 0 ? String.format(" / %.2fx", v[1]) : ""),
                    left + (int) (scale * Math.log1p(Math.max(v[0], v[1]))) + 5, y + 16);
        }
        g.setColor(Color.RED);
        g.setStroke(new BasicStroke(1f));
        g.drawLine(one, 40, one, height - 10);
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }
}
