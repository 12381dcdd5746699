package io.github.panamabn.kernels.internal;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of daemon worker threads that run one call's tasks together with the calling thread.
 *
 * <p>One call at a time: a caller that finds the pool busy is told so and runs its tasks alone. That
 * is safe because a task's result never depends on which thread runs it, or how many do. Nothing is
 * allocated per call: the tasks are an object the caller reuses, and a claim word (generation in the
 * high half, next task in the low half) hands them out.
 */
public final class WorkerPool {
    /** The tasks of one call, numbered from 0. */
    public interface Tasks {
        /** Runs task {@code task}; called once per task, from any thread of the pool. */
        void run(int task);
    }

    private static final ConcurrentHashMap<Integer, WorkerPool> SHARED = new ConcurrentHashMap<>();
    /** Spins (about 40 microseconds) before a waiting thread parks: back-to-back calls skip the wake-up. */
    private static final int SPINS = 2048;
    private static final int CLOSED = Integer.MAX_VALUE;

    private final Thread[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicLong claim = new AtomicLong(CLOSED);
    private final AtomicInteger finished = new AtomicInteger();
    private volatile Tasks tasks;
    private volatile int taskCount;
    private volatile Thread caller;
    private volatile Throwable failure;
    private int generation;

    private WorkerPool(int threads) {
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "panama-bn-" + threads + "-worker-" + i);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** The pool of {@code threads} threads (the caller and {@code threads - 1} workers), made once per size. */
    public static WorkerPool shared(int threads) {
        if (threads < 2) {
            throw new IllegalArgumentException("a pool needs at least 2 threads, got " + threads);
        }
        return SHARED.computeIfAbsent(threads, WorkerPool::new);
    }

    /** Threads that run a call: the caller and the workers. */
    public int threads() {
        return workers.length + 1;
    }

    /** Whether the workers may touch {@code segment} (a confined arena's segment belongs to one thread). */
    public boolean canShare(MemorySegment segment) {
        return segment == null || segment.isAccessibleBy(workers[0]);
    }

    /**
     * Runs tasks {@code 0 .. count-1} on the caller and the workers and returns when all are done,
     * rethrowing the first failure. Returns false at once, having run nothing, when another call
     * holds the pool.
     */
    public boolean run(Tasks t, int count) {
        if (!busy.compareAndSet(false, true)) {
            return false;
        }
        try {
            tasks = t;
            taskCount = count;
            caller = Thread.currentThread();
            failure = null;
            finished.set(0);
            int gen = ++generation;
            claim.set((long) gen << 32); // publishes the fields above to the workers
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            work(gen, t, count);
            for (int spins = 0; finished.get() < count; spins++) {
                if (spins < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            // Every task was claimed: a worker still holding this generation finds nothing more.
            claim.set((long) gen << 32 | CLOSED);
            Throwable f = failure;
            if (f instanceof RuntimeException e) {
                throw e;
            }
            if (f instanceof Error e) {
                throw e;
            }
            return true;
        } finally {
            tasks = null;
            busy.set(false);
        }
    }

    private void work(int gen, Tasks t, int count) {
        while (true) {
            long c = claim.get();
            int task = (int) c;
            if ((int) (c >>> 32) != gen || task >= count) {
                return;
            }
            if (!claim.compareAndSet(c, c + 1)) {
                continue;
            }
            try {
                t.run(task);
            } catch (Throwable e) {
                if (failure == null) {
                    failure = e;
                }
            } finally {
                if (finished.incrementAndGet() == count) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    private void workerLoop() {
        int seen = 0;
        int spins = 0;
        while (true) {
            int gen = (int) (claim.get() >>> 32);
            if (gen == seen) {
                if (spins++ < SPINS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
                continue;
            }
            seen = gen;
            spins = 0;
            Tasks t = tasks;
            int count = taskCount;
            if (t != null) {
                // t and count may belong to a later call; work() then finds another generation and stops.
                work(gen, t, count);
            }
        }
    }
}
