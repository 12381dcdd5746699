package io.github.panamabn.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report's arithmetic on a hand-made JMH result file whose answers are known. */
class BenchReportTest {
    private static final String SHAPE = "32x64x56x56"; // 6,422,528 elements

    private static String result(String benchmark, String params, int threads, double score, double error,
                                 String raw, String alloc) {
        return "{\"benchmark\":\"x.y." + benchmark + "\",\"mode\":\"avgt\",\"threads\":" + threads + ",\"forks\":1,"
                + "\"measurementTime\":\"1 s\","
                + "\"params\":{" + params + "},\"primaryMetric\":{\"score\":" + score + ",\"scoreError\":" + error
                + ",\"scoreUnit\":\"ms/op\",\"rawData\":" + raw + "},\"secondaryMetrics\":{"
                + (alloc == null ? "" : "\"gc.alloc.rate.norm\":{\"score\":" + alloc + ",\"scoreError\":\"NaN\"}")
                + "}}";
    }

    private static String kernel(String impl, String kernel, String layout, int threads, double score, String alloc) {
        return result("KernelBenchmark." + kernel, "\"implementation\":\"" + impl + "\",\"layout\":\"" + layout
                + "\",\"shape\":\"" + SHAPE + "\",\"storage\":\"ARRAY\",\"threads\":\"" + threads + "\"", 1, score,
                0.1, "[[" + score + "," + score + "]]", alloc);
    }

    @Test
    void targetsRatiosRooflineAndFastestForkComeOutAsComputedByHand(@TempDir Path dir) throws Exception {
        String json = "[" + String.join(",", List.of(
                // copy moves 2 x 4 x 6,422,528 bytes: 51.4 MB in 2 ms is 25.7 GB/s; the vector copy is slower
                result("MemoryBandwidthBenchmark.copy", "\"shape\":\"" + SHAPE + "\"", 1, 2.0, 0.1, "[[2.0]]", "14.0"),
                result("MemoryBandwidthBenchmark.vectorCopy", "\"shape\":\"" + SHAPE + "\"", 1, 2.5, 0.1, "[[2.5]]",
                        null),
                result("MemoryBandwidthBenchmark.sum", "\"shape\":\"" + SHAPE + "\"", 1, 1.0, 0.1, "[[1.0]]", null),
                // JMH's own 7000 B per 1 s iteration is 21 B per 3 ms call: the kernel allocates 0.01 B
                kernel("PANAMA", "forwardTraining", "NCHW", 1, 3.0, "21.01"),
                kernel("SCALAR", "forwardTraining", "NCHW", 1, 30.0, "0.0"),
                kernel("PANAMA", "forwardInference", "NCHW", 1, 2.5, "17.52"),
                // PyTorch: a fast fork (12 ms) and a slow one (40 ms); the report takes the fast one
                result("PyTorchBenchmark.forwardTraining", "\"layout\":\"NCHW\",\"shape\":\"" + SHAPE
                        + "\",\"threads\":\"1\"", 1, 26.0, 30.0, "[[11.0,12.0,13.0],[40.0,40.0,40.0]]", null),
                result("PyTorchBenchmark.forwardInference", "\"layout\":\"NCHW\",\"shape\":\"" + SHAPE
                        + "\",\"threads\":\"1\"", 1, 2.0, 0.1, "[[2.0,2.0]]", null))) + "]";
        Path file = dir.resolve("results.json");
        Files.writeString(file, json);
        List<BenchReport.Result> results = BenchReport.read(List.of(file));
        assertEquals(8, results.size());

        BenchReport.Result torch = results.get(6).fastestFork();
        assertEquals(12.0, torch.score(), 1e-12);
        // t(0.9995, 2) = 31.599 for 3 iterations with standard deviation 1
        assertEquals(31.599 / Math.sqrt(3), torch.error(), 1e-3);

        BenchReport.Report report = new BenchReport.Report(results);
        BenchReport.Result training = report.panama("forwardTraining", SHAPE, "NCHW", 1);
        // forward training moves 8 bytes per element: 51.4 MB in 3 ms against 25.7 GB/s is 2/3 of the roofline
        assertEquals(2.0 / 3, report.roofline(training), 1e-9);
        String targets = report.targets();
        // 12 / 3 = 4.00x against the 4x target: met
        assertTrue(targets.contains("| forward training NCHW vs PyTorch, 1 thread | " + SHAPE + " NCHW, 1t | 4.00x"),
                targets);
        assertTrue(targets.contains("| 4.0x | yes |"), targets);
        // inference 2.5 ms against PyTorch's 2.0 ms: slower, the target is not met
        assertTrue(targets.contains("| forward inference vs PyTorch, worst shape | " + SHAPE + " NCHW, 1t | 0.80x | 1.00x"
                + " | **no** |"), targets);
        assertEquals(7000, report.jmhBytesPerIteration(), 1e-9);
        assertTrue(targets.contains("0.02 B | 0 (< 16) | yes"), targets);

        String table = report.table();
        // SCALAR over PANAMA: 10x, with both 0.1 ms errors carried through
        double rel = Math.hypot(0.1 / 30, 0.1 / 3);
        assertTrue(table.contains(String.format(Locale.ROOT, "10.00x ± %.2f", 10 * rel)), table);
        assertTrue(table.contains("| 67% |"), table);

        BenchReport.write(results, dir, "heading");
        assertTrue(Files.size(dir.resolve("benchmarks.png")) > 1000);
        assertTrue(Files.readString(dir.resolve("benchmarks.md")).startsWith("heading"));
    }

    @Test
    void jsonReaderTakesWhatJmhWrites() {
        Object v = Json.parse("{\"a\": [1, -2.5e3, \"NaN\", true, null], \"b\": {\"c\": \"\\u00e9\\n\"}}");
        assertEquals("{a=[1.0, -2500.0, NaN, true, null], b={c=\u00e9\n}}", v.toString());
    }
}
