package io.github.panamabn.verification;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** What warm calls allocate on the calling thread, by the JVM's exact per-thread allocation counter. */
final class AllocationCheck {
    private AllocationCheck() {
    }

    /**
     * The named calls that allocate, each with its bytes per call: rounds of 20 calls until one
     * allocates nothing, at least 5 rounds and at most 10 s, since on two cores C2 may still be compiling
     * what the suites before left queued; compiled code that allocates fails every round.
     */
    static List<String> allocating(Map<String, Runnable> calls) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId();
        List<String> allocating = new ArrayList<>();
        calls.forEach((name, call) -> {
            long least = Long.MAX_VALUE;
            long settle = System.nanoTime();
            for (int round = 0; least > 0 && (round < 5 || System.nanoTime() - settle < 10_000_000_000L); round++) {
                long before = mx.getThreadAllocatedBytes(id);
                for (int i = 0; i < 20; i++) {
                    call.run();
                }
                least = Math.min(least, mx.getThreadAllocatedBytes(id) - before);
            }
            if (least > 0) {
                allocating.add(name + ": " + least / 20 + " B per call");
            }
        });
        return allocating;
    }
}
