package io.github.panamabn.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
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

    private static String torch(String kernel, String allocator, double score, double error, String raw) {
        return result("PyTorchBenchmark." + kernel, "\"allocator\":\"" + allocator + "\",\"layout\":\"NCHW\",\"shape\":\""
                + SHAPE + "\",\"threads\":\"1\"", 1, score, error, raw, null);
    }

    /** A machine whose L3 (16 MB) the 25.7 MB tensor exceeds, with 1 MB of L2 (a 200 KB channel fits). */
    private static final Machine MACHINE = new Machine("test CPU", 2, "25", 512, 48 << 10, 1 << 20, 16 << 20,
            "jemalloc");

    @Test
    void targetsRatiosFloorsAndFastestForkComeOutAsComputedByHand(@TempDir Path dir) throws Exception {
        String json = "[" + String.join(",", List.of(
                // copy: 2 ms; the vector copy is slower; a read-only sum 1 ms
                result("MemoryBandwidthBenchmark.copy", "\"shape\":\"" + SHAPE + "\"", 1, 2.0, 0.1, "[[2.0]]", "14.0"),
                result("MemoryBandwidthBenchmark.vectorCopy", "\"shape\":\"" + SHAPE + "\"", 1, 2.5, 0.1, "[[2.5]]",
                        null),
                result("MemoryBandwidthBenchmark.sum", "\"shape\":\"" + SHAPE + "\"", 1, 1.0, 0.1, "[[1.0]]", null),
                // JMH's own 7000 B per 1 s iteration is 21 B per 3 ms call: the kernel allocates 0.01 B
                kernel("PANAMA", "forwardTraining", "NCHW", 1, 3.0, "21.01"),
                kernel("SCALAR", "forwardTraining", "NCHW", 1, 30.0, "0.0"),
                kernel("PANAMA", "forwardInference", "NCHW", 1, 2.5, "17.52"),
                // PyTorch tuned: a fast fork (12 ms) and a slow one (40 ms); the report takes the fast one
                torch("forwardTraining", "jemalloc", 26.0, 30.0, "[[11.0,12.0,13.0],[40.0,40.0,40.0]]"),
                torch("forwardInference", "jemalloc", 2.0, 0.1, "[[2.0,2.0]]"),
                // PyTorch with the default allocator, page-faulting its outputs
                torch("forwardTraining", "default", 24.0, 0.1, "[[24.0,24.0]]"),
                torch("forwardInference", "default", 5.0, 0.1, "[[5.0,5.0]]"),
                // two threads copying a tensor each in 3 ms: one tensor's copy at that bandwidth is 1.5 ms
                result("MemoryBandwidthBenchmark.copy", "\"shape\":\"" + SHAPE + "\"", 2, 3.0, 0.1, "[[3.0]]", "14.0"))) + "]";
        Path file = dir.resolve("results.json");
        Files.writeString(file, json);
        List<BenchReport.Result> results = BenchReport.read(List.of(file));
        assertEquals(11, results.size());

        BenchReport.Result fastest = results.get(6).fastestFork();
        assertEquals(12.0, fastest.score(), 1e-12);
        // t(0.9995, 2) = 31.599 for 3 iterations with standard deviation 1
        assertEquals(31.599 / Math.sqrt(3), fastest.error(), 1e-3);

        BenchReport.Report report = new BenchReport.Report(results, MACHINE);
        assertEquals(12.0, report.pytorch("forwardTraining", SHAPE, "NCHW", 1, true).score(), 1e-12);
        assertEquals(24.0, report.pytorch("forwardTraining", SHAPE, "NCHW", 1, false).score(), 1e-12);
        // floors: training 1.5 copies of 2 ms, inference 1 copy, statistics the 1 ms read
        assertEquals(3.0, report.floorMs("forwardTraining", SHAPE, 1), 1e-12);
        assertEquals(2.0, report.floorMs("forwardInference", SHAPE, 1), 1e-12);
        assertEquals(1.0, report.floorMs("statistics", SHAPE, 1), 1e-12);
        assertEquals(1.5, report.copyMs(SHAPE, 2), 1e-12);
        assertEquals(1.5 * 1.5, report.floorMs("forwardTraining", SHAPE, 2), 1e-12);
        assertTrue(report.beyondLastLevelCache(SHAPE));
        assertTrue(report.channelFitsL2(SHAPE));

        String targets = report.targets();
        // inference 2.5 ms against tuned PyTorch's 2.0 ms: one row of two slower, worst 0.80x
        assertTrue(targets.contains("| no kernel slower than tuned PyTorch (within JMH's error) | 1 of 2 rows slower; "
                + "worst forwardInference " + SHAPE + " NCHW, 1t | 0.80x | 1.0x | **no** |"), targets);
        // against the faster of each row's allocators: the tuned forks here (12 and 2 ms against 24 and 5)
        assertTrue(targets.contains("| no kernel slower than PyTorch's faster allocator (within JMH's error) | 1 of 2 "
                + "rows slower (the default allocator faster in 0); worst forwardInference " + SHAPE + " NCHW, 1t | 0.80x"),
                targets);
        // geometric mean of 12 / 3 = 4 and 2 / 2.5 = 0.8: sqrt(3.2) = 1.79
        assertTrue(targets.contains(String.format(Locale.ROOT, "| %.2fx | 1.5x | yes |", Math.sqrt(3.2))), targets);
        // beyond the LLC: training 3 ms is 1.5 copies (at most 1.8: met); inference 2.5 ms is 1.25 (at most 1.1:
        // not); each beside the vector-loop copy's 2.5 ms
        assertTrue(targets.contains("| forwardTraining vs copy, beyond the last-level cache | forwardTraining " + SHAPE
                + " NCHW, 1t | 1.50x (1.20x a vector-loop copy) | at most 1.8x | yes |"), targets);
        assertTrue(targets.contains("| forwardInference vs copy, beyond the last-level cache | forwardInference " + SHAPE
                + " NCHW, 1t | 1.25x (1.00x a vector-loop copy) | at most 1.1x | **no** |"), targets);
        assertTrue(targets.contains("| 1.50x copy | at most 1.3x | **no** |"), targets);
        assertEquals(7000, report.jmhBytesPerIteration(), 1e-9);
        assertTrue(targets.contains("0.02 B | 0 (< 16) | yes"), targets);

        String peers = report.peerTable();
        // training: 4.00x over tuned, 8.00x over default, 1.50x a copy, 1.00x the floor
        assertTrue(peers.contains("| 1.50x | 1.5 | 1.00x |"), peers);
        assertTrue(peers.contains("| 8.00x ± "), peers);

        String table = report.table();
        // SCALAR over PANAMA: 10x, with both 0.1 ms errors carried through
        double rel = Math.hypot(0.1 / 30, 0.1 / 3);
        assertTrue(table.contains(String.format(Locale.ROOT, "10.00x ± %.2f", 10 * rel)), table);

        BenchReport.write(results, MACHINE, dir, "heading");
        assertTrue(Files.size(dir.resolve("benchmarks.png")) > 1000);
        assertTrue(Files.size(dir.resolve("benchmarks-scalar.png")) > 1000);
        String md = Files.readString(dir.resolve("benchmarks.md"));
        assertTrue(md.startsWith("heading\n\nMachine: test CPU, 2 cores, JDK 25, 512-bit vectors, L1d 48 KB, L2 1 MB per "
                + "core, L3 16 MB. PyTorch's tuned forks: jemalloc."), md);
    }

    @Test
    void allocationIsJudgedBeyondWhatJmhsOwnVaryingShareLetsItResolve(@TempDir Path dir) throws Exception {
        String bandwidth = String.join(",", List.of(
                // JMH's own bytes per 1 s iteration, on one JMH thread: 7000, 6900 and 7400 (median 7000, spread 500)
                result("MemoryBandwidthBenchmark.copy", "\"shape\":\"" + SHAPE + "\"", 1, 2.0, 0.1, "[[2.0]]", "14.0"),
                result("MemoryBandwidthBenchmark.vectorCopy", "\"shape\":\"" + SHAPE + "\"", 1, 2.5, 0.1, "[[2.5]]",
                        "17.25"),
                result("MemoryBandwidthBenchmark.sum", "\"shape\":\"" + SHAPE + "\"", 1, 1.0, 0.1, "[[1.0]]", "7.4"),
                // two JMH threads keep other books (4000 B each): not the kernel benchmarks' share
                result("MemoryBandwidthBenchmark.copy", "\"shape\":\"" + SHAPE + "\"", 2, 3.0, 0.1, "[[3.0]]", "12.0")));
        // a 100 ms call: JMH's share 700 B, known to within 50 B; 730 B measured is 30 B net, within that
        String slow = kernel("PANAMA", "backward", "NCHW", 1, 100.0, "730.0");
        Path file = dir.resolve("slow.json");
        Files.writeString(file, "[" + bandwidth + "," + slow + "]");
        BenchReport.Report report = new BenchReport.Report(BenchReport.read(List.of(file)), MACHINE);
        assertEquals(7000, report.jmhBytesPerIteration(), 1e-9);
        assertEquals(500, report.jmhBytesSpread(), 1e-9);
        String targets = report.targets();
        assertTrue(targets.contains("| backward " + SHAPE + " NCHW array, 1t | 30.00 B ± 50.00 | 0 (< 16) | yes |"),
                targets);

        // a 2 us call that allocates 20 B: JMH's share is 0.014 B, resolved to 0.001 B, so 20 B is an allocation
        String fast = kernel("PANAMA", "statistics", "NCHW", 1, 0.002, "20.014");
        Files.writeString(file, "[" + bandwidth + "," + slow + "," + fast + "]");
        targets = new BenchReport.Report(BenchReport.read(List.of(file)), MACHINE).targets();
        assertTrue(targets.contains("| statistics " + SHAPE + " NCHW array, 1t | 20.00 B | 0 (< 16) | **no** |"),
                targets);
    }

    @Test
    void aTruncatedOrForeignResultFileIsAnErrorNamingIt(@TempDir Path dir) throws Exception {
        Path truncated = dir.resolve("truncated.json");
        Files.writeString(truncated, "[{\"benchmark\":\"x.y.K.statistics\",\"threads\":1,\"primaryMetric\":{\"sc");
        IOException e = assertThrows(IOException.class, () -> BenchReport.read(List.of(truncated)));
        assertTrue(e.getMessage().contains("truncated.json"), e.getMessage());
        Path foreign = dir.resolve("foreign.json");
        Files.writeString(foreign, "{\"a\": 1}");
        e = assertThrows(IOException.class, () -> BenchReport.read(List.of(foreign)));
        assertTrue(e.getMessage().contains("foreign.json"), e.getMessage());
        Path empty = dir.resolve("empty.json");
        Files.writeString(empty, "");
        assertThrows(IOException.class, () -> BenchReport.read(List.of(empty)));
    }

    @Test
    void machineDescriptionsRoundTripAndCacheSizesParse(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("machine.json");
        MACHINE.write(f);
        assertEquals(MACHINE, Machine.read(f));
        assertEquals(2048L << 10, Machine.parseSize("2048K"));
        assertEquals(105L << 20, Machine.parseSize("105M"));
        Files.writeString(f, "{\"cpu\": ");
        assertThrows(IOException.class, () -> Machine.read(f));
    }
}
