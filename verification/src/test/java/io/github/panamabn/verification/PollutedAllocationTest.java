package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * No kernel allocates per call in a JVM that has already run everything, as a service's has: in the
 * suite's own JVM (this class runs last), after {@link Pollution}'s mix has run interleaved at random,
 * every configuration of the mix is measured by the JVM's exact per-thread allocation counters of the
 * caller and the kernels' workers, and must show 0 bytes. What C2 compiles depends on every call the
 * process made: before the loops were split by storage and activation (see {@code ArrayLoops}), this
 * phase made backward box every vector. {@code -Dpanamabn.pollutionSeconds} sets the phase's length
 * (default 20); a failure prints what the JIT did with the loops ({@code -Dpanamabn.jitReport=true}: always).
 */
@Order(Integer.MAX_VALUE)
class PollutedAllocationTest {
    private static final Duration POLLUTION = Duration.ofSeconds(Long.getLong("panamabn.pollutionSeconds", 20));
    /**
     * Rounds of calls until one allocates nothing, for at least {@link #ROUNDS} rounds and at most
     * {@link #SETTLE} per configuration: a round that allocates may be the JIT still compiling the
     * configuration (on two cores C2's queue is long after the phase); compiled code that allocates
     * fails every round.
     */
    private static final int ROUNDS = 3;
    private static final Duration SETTLE = Duration.ofSeconds(10);

    @Test
    void everyKernelAllocatesNothingPerCallAfterThePollutionPhase() {
        try (Pollution mix = new Pollution(Pollution.serviceShapes(), Pollution.serviceKernels());
             jdk.jfr.Recording jit = jitRecording()) {
            long made = mix.run(POLLUTION, 12);
            com.sun.management.ThreadMXBean mx =
                    (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
            long[] threads = kernelThreads();
            long overhead = Long.MAX_VALUE;
            for (int i = 0; i < 10; i++) {
                long before = allocated(mx, threads);
                overhead = Math.min(overhead, allocated(mx, threads) - before);
            }
            List<Pollution.Call> calls = new ArrayList<>(mix.calls());
            Collections.shuffle(calls, new Random(13));
            // A first pass over every configuration, then a second over those that still allocated: after
            // the phase C2's queue may hold more than SETTLE of work, and a loop it drops as stale while
            // other configurations run is compiled only later. Compiled code that allocates fails both passes.
            List<Pollution.Call> again = new ArrayList<>();
            int repeated = 0;
            java.util.Map<String, Long> nanosPerKind = new java.util.TreeMap<>();
            for (Pollution.Call c : calls) {
                Measured m = measure(c, mx, threads, overhead);
                nanosPerKind.merge(c.kind(), m.nanos(), Long::sum);
                if (m.bytesPerCall() > 0) {
                    again.add(c);
                } else if (m.rounds() > 1) {
                    repeated++;
                }
            }
            List<String> failures = new ArrayList<>();
            for (Pollution.Call c : again) {
                Measured m = measure(c, mx, threads, overhead);
                if (m.bytesPerCall() > 0) {
                    String failure = c + ": " + m.bytesPerCall() + " B per call over " + m.calls()
                            + " calls, in the best of " + m.rounds() + " rounds of each pass";
                    System.out.println("allocates: " + failure + "\n" + whereItAllocates(c));
                    failures.add(failure);
                }
            }
            if (!failures.isEmpty() || Boolean.getBoolean("panamabn.jitReport")) {
                System.out.println(whatTheJitDid(jit));
            }
            System.out.println("Polluted allocation: " + calls.size() + " configurations after " + made
                    + " mixed calls in " + POLLUTION.toSeconds() + " s; " + failures.size() + " allocate; " + repeated
                    + " needed more than one round, " + again.size() + " a second pass; seconds per kind: "
                    + secondsPerKind(nanosPerKind));
            assertTrue(failures.isEmpty(), failures.size() + " of " + calls.size() + " configurations allocate:\n"
                    + String.join("\n", failures));
        }
    }

    /** The fewest bytes per call a configuration allocated in any round, the calls per round, the rounds. */
    private record Measured(long bytesPerCall, int calls, int rounds, long nanos) {
    }

    /**
     * Rounds of calls until one allocates nothing, for at least {@link #ROUNDS} rounds and at most
     * {@link #SETTLE}.
     */
    private static Measured measure(Pollution.Call c, com.sun.management.ThreadMXBean mx, long[] threads,
                                    long overhead) {
        // about the same work per round for every size: compiled code that allocates does so on every call
        int n = (int) Math.max(20, Math.min(200, 2_000_000 / c.elementCount()));
        long fewest = Long.MAX_VALUE;
        int round = 0;
        long settle = System.nanoTime();
        while (fewest > 0 && (round < ROUNDS || System.nanoTime() - settle < SETTLE.toNanos())) {
            long before = allocated(mx, threads);
            for (int i = 0; i < n; i++) {
                c.run();
            }
            fewest = Math.min(fewest, allocated(mx, threads) - before - overhead);
            round++;
        }
        return new Measured(fewest <= 0 ? 0 : Math.max(1, fewest / n), n, round, System.nanoTime() - settle);
    }

    private static String secondsPerKind(java.util.Map<String, Long> nanos) {
        StringBuilder b = new StringBuilder();
        nanos.forEach((k, v) -> b.append(String.format("%s %.1f; ", k, v / 1e9)));
        return b.toString();
    }

    /** The most frequent allocation sites of more calls, by JFR's allocation samples, for the report. */
    private static String whereItAllocates(Pollution.Call c) {
        try (jdk.jfr.Recording r = new jdk.jfr.Recording()) {
            r.enable("jdk.ObjectAllocationSample").withStackTrace().with("throttle", "10000/s");
            r.start();
            for (int i = 0; i < 2000; i++) {
                c.run();
            }
            r.stop();
            java.nio.file.Path file = java.nio.file.Files.createTempFile("allocation", ".jfr");
            r.dump(file);
            java.util.Map<String, Integer> sites = new java.util.TreeMap<>();
            for (jdk.jfr.consumer.RecordedEvent e : jdk.jfr.consumer.RecordingFile.readAllEvents(file)) {
                StringBuilder b = new StringBuilder(e.getClass("objectClass").getName());
                if (e.getStackTrace() != null) {
                    e.getStackTrace().getFrames().stream().limit(8).forEach(f -> b.append("\n      at ")
                            .append(f.getMethod().getType().getName()).append('.').append(f.getMethod().getName())
                            .append(':').append(f.getLineNumber()));
                }
                sites.merge(b.toString(), 1, Integer::sum);
            }
            java.nio.file.Files.delete(file);
            StringBuilder out = new StringBuilder();
            sites.entrySet().stream().sorted((a, b) -> b.getValue() - a.getValue()).limit(3)
                    .forEach(e -> out.append("    ").append(e.getValue()).append(" samples: ").append(e.getKey())
                            .append('\n'));
            return out.toString();
        } catch (java.io.IOException | RuntimeException e) {
            return "    (no allocation profile: " + e + ")";
        }
    }

    /** The JIT's compilations, failures and deoptimizations from now on, for a failure's report. */
    private static jdk.jfr.Recording jitRecording() {
        jdk.jfr.Recording r = new jdk.jfr.Recording();
        r.enable("jdk.Compilation").withThreshold(Duration.ZERO);
        r.enable("jdk.CompilationFailure");
        r.enable("jdk.Deoptimization");
        r.start();
        return r;
    }

    /**
     * Per method of the kernels' loops: its compilations (tier, OSR, size), C2's failures and the
     * deoptimizations since the pollution phase began: whether a loop that allocates was never compiled
     * by C2, was compiled and thrown away, or was compiled and still boxes.
     */
    private static String whatTheJitDid(jdk.jfr.Recording r) {
        try {
            java.nio.file.Path file = java.nio.file.Files.createTempFile("jit", ".jfr");
            r.dump(file);
            java.util.Map<String, StringBuilder> perMethod = new java.util.TreeMap<>();
            for (jdk.jfr.consumer.RecordedEvent e : jdk.jfr.consumer.RecordingFile.readAllEvents(file)) {
                String name = e.getEventType().getName();
                jdk.jfr.consumer.RecordedMethod m = name.equals("jdk.CompilationFailure") ? null : e.getValue("method");
                String what;
                String method;
                if (name.equals("jdk.Compilation")) {
                    method = m.getType().getName() + "." + m.getName();
                    what = "tier " + e.getValue("compileLevel") + (e.getBoolean("isOsr") ? " OSR" : "")
                            + (e.getBoolean("succeded") ? "" : " FAILED") + " " + e.getValue("codeSize") + " B";
                } else if (name.equals("jdk.Deoptimization")) {
                    method = m.getType().getName() + "." + m.getName();
                    what = "deopt " + e.getValue("reason") + "/" + e.getValue("action") + " at line "
                            + e.getValue("lineNumber") + " (tier " + e.getValue("compiler") + ")";
                } else {
                    method = "compilation " + e.getValue("compileId");
                    what = "failure: " + e.getValue("failureMessage");
                }
                if (method.contains("kernels.internal") || name.equals("jdk.CompilationFailure")) {
                    perMethod.computeIfAbsent(method, k -> new StringBuilder()).append(String.format("%n      %tT ",
                            e.getStartTime().toEpochMilli())).append(what);
                }
            }
            java.nio.file.Files.delete(file);
            StringBuilder out = new StringBuilder("What the JIT did with the kernels' methods since the phase began:");
            perMethod.forEach((k, v) -> out.append("\n    ").append(k).append(v));
            return out.toString();
        } catch (java.io.IOException | RuntimeException e) {
            return "    (no JIT record: " + e + ")";
        }
    }

    /** This thread and the kernels' workers. */
    private static long[] kernelThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("panama-bn-"))
                .mapToLong(Thread::threadId).toArray();
    }

    private static long allocated(com.sun.management.ThreadMXBean mx, long[] threads) {
        long total = 0;
        for (long id : threads) {
            total += mx.getThreadAllocatedBytes(id);
        }
        return total;
    }
}
