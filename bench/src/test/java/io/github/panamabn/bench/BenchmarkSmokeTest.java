package io.github.panamabn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/** The whole suite in smoke mode (in process, one short iteration, the small shape), so it cannot rot. */
class BenchmarkSmokeTest {

    /** In process, no warmup, one 20 ms iteration: to check the benchmarks run, not to measure. */
    private static Collection<RunResult> smoke(ChainedOptionsBuilder options) throws Exception {
        Collection<RunResult> results = new Runner(options.forks(0).warmupIterations(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(20)).shouldFailOnError(true).verbosity(VerboseMode.SILENT)
                .build()).run();
        System.out.println("JMH smoke run: " + results.size() + " benchmarks ran");
        return results;
    }

    @Test
    void everyBenchmarkRuns() throws Exception {
        Collection<RunResult> results = smoke(new OptionsBuilder()
                .include("io.github.panamabn.bench.(KernelBenchmark|MemoryBandwidthBenchmark)")
                .param("shape", "7x61x13x13"));
        // 4 kernels x 2 implementations x 2 layouts x 2 storages x 2 thread counts, plus two copies and a sum
        assertEquals(4 * 2 * 2 * 2 * 2 + 3, results.size());
        for (RunResult r : results) {
            assertTrue(r.getPrimaryResult().getScore() > 0, r.getParams().getBenchmark());
        }
    }

    @Test
    void thePollutedBenchmarkRuns() throws Exception {
        Collection<RunResult> results = smoke(new OptionsBuilder()
                .include("io.github.panamabn.bench.PollutedKernelBenchmark")
                .param("shape", "7x61x13x13").param("layout", "NHWC").param("storage", "NATIVE")
                .param("pollutionSeconds", "1"));
        assertEquals(4 * 2, results.size());
        for (RunResult r : results) {
            assertTrue(r.getPrimaryResult().getScore() > 0, r.getParams().getBenchmark());
        }
    }
}
