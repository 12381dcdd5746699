package io.github.panamabn.kernels;

import io.github.panamabn.kernels.internal.KernelBackend;
import io.github.panamabn.kernels.internal.KernelProvider;
import io.github.panamabn.kernels.internal.NormCall;
import io.github.panamabn.kernels.internal.Operand;
import io.github.panamabn.kernels.internal.WorkerPool;

/**
 * What a per-sample normalization facade binds ({@link LayerNorm}, {@link RmsNorm}, {@link GroupNorm}):
 * an implementation and the threads a call may use, with the same rules as {@link BatchNorm}'s.
 */
final class Engine {
    final KernelBackend backend;
    /** The threads beside the caller's, or null: the calling thread alone. */
    final WorkerPool pool;

    private Engine(KernelBackend backend, WorkerPool pool) {
        this.backend = backend;
        this.pool = pool;
    }

    /** The engine of the implementation selected for this JVM ({@link KernelProvider#defaultBackend()}). */
    static Engine selected() {
        return KernelProvider.defaultBackend() == SCALAR.backend ? SCALAR : PanamaEngine.ENGINE;
    }

    private static final Engine SCALAR = new Engine(KernelProvider.backend(Implementation.SCALAR), null);

    /** Initialized only once Panama is known to run. */
    private static final class PanamaEngine {
        static final Engine ENGINE = new Engine(KernelProvider.backend(Implementation.PANAMA), null);
    }

    static Engine of(Implementation implementation) {
        Checks.notNull(implementation, "implementation");
        return new Engine(KernelProvider.backend(implementation), null);
    }

    Engine withThreads(int threads) {
        if (threads < 1 || threads > 256) {
            throw new IllegalArgumentException("threads must be in [1, 256], got " + threads);
        }
        return new Engine(backend, threads == 1 ? null : WorkerPool.shared(threads));
    }

    int threads() {
        return pool == null ? 1 : pool.threads();
    }

    /**
     * This thread's call with its operands bound: all as arrays, or all as segments when any view is a
     * segment (absent ones null).
     */
    NormCall begin(TensorView x, TensorView y, TensorView dy, TensorView dx) {
        boolean segments = Checks.anySegment(x, y == null ? x : y, dy, dx);
        NormCall call = NormCall.begin(backend, pool);
        bind(call.x, x, segments);
        bind(call.y, y, segments);
        bind(call.dy, dy, segments);
        bind(call.dx, dx, segments);
        return call;
    }

    /** As {@link #begin}, for a fused residual add: h = x + residual, y = norm(h). */
    NormCall beginResidual(TensorView x, TensorView residual, TensorView h, TensorView y) {
        boolean segments = Checks.anySegment(x, residual, h, y);
        NormCall call = NormCall.begin(backend, pool);
        bind(call.x, x, segments);
        bind(call.residual, residual, segments);
        bind(call.h, h, segments);
        bind(call.y, y, segments);
        bind(call.dy, null, segments);
        bind(call.dx, null, segments);
        return call;
    }

    /**
     * The operands of a fused residual add, all of x's shape: h may be x or residual (in place), y may
     * be any of them but h (y is computed from h); no partial overlaps.
     */
    static void residualOutputs(TensorView x, TensorView residual, TensorView h, TensorView y) {
        Checks.view(x, "x", false);
        Checks.view(Checks.notNull(residual, "residual"), "residual", false);
        Checks.view(Checks.notNull(h, "h"), "h", true);
        Checks.view(Checks.notNull(y, "y"), "y", true);
        Checks.sameShape(x, residual, "residual");
        Checks.sameShape(x, h, "h");
        Checks.sameShape(x, y, "y");
        boolean segments = Checks.anySegment(x, residual, h, y);
        Checks.noPartialOverlap(x, "x", residual, "residual", segments);
        Checks.noPartialOverlap(x, "x", h, "h", segments);
        Checks.noPartialOverlap(residual, "residual", h, "h", segments);
        Checks.noPartialOverlap(x, "x", y, "y", segments);
        Checks.noPartialOverlap(residual, "residual", y, "y", segments);
        Checks.noPartialOverlap(h, "h", y, "y", segments);
        Checks.notSameMemory(h, "h", y, "y", segments);
    }

    /**
     * Binds an operand to a view's storage: its array, or its storage as a segment when the call runs on
     * segments; unset for no view.
     */
    static void bind(Operand operand, TensorView view, boolean segments) {
        if (view == null) {
            operand.set(null, null, 0);
        } else if (segments) {
            operand.set(null, view.asSegment(), view.offset());
        } else {
            operand.set(view.arrayOrNull(), null, view.offset());
        }
    }

    /** The per-sample norms fuse no activation. */
    static void requireNoActivation(NormConfig config, String kernel) {
        Checks.notNull(config, "config");
        if (config.activation() != Activation.IDENTITY) {
            throw new IllegalArgumentException(kernel + " fuses no activation, but config asks for "
                    + config.activation() + ": apply it to the output");
        }
    }

    /** An affine's arrays must have {@code count} values each, one per {@code unit}. */
    static void parameters(Affine affine, long count, String unit, String name) {
        if (affine == null) {
            throw new NullPointerException(name + " must not be null (use Affine.none() for no affine transform)");
        }
        checkLength(affine.weightOrNull(), count, unit, name, ".weight");
        checkLength(affine.biasOrNull(), count, unit, name, ".bias");
    }

    private static void checkLength(float[] values, long count, String unit, String name, String part) {
        if (values != null && values.length != count) {
            throw new IllegalArgumentException(name + part + " must have one value per " + unit + " (" + count
                    + "), got length " + values.length);
        }
    }

    /** Saved statistics of {@code units} units. */
    static void saved(SavedStatistics saved, long units, String unit, String name) {
        if (saved != null && saved.channels() != units) {
            throw new IllegalArgumentException(name + " must hold one mean and invStd per " + unit + " (" + units
                    + "), got " + saved.channels());
        }
    }

    /** Units whose statistics live in float or double arrays must be countable by an int. */
    static int unitCount(long units, String what) {
        if (units > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(what + " " + units + " exceed the " + (Integer.MAX_VALUE - 8)
                    + " one call can hold statistics for");
        }
        return (int) units;
    }

    /** The output and gradient views of a call: x's shape; no partial overlaps with what they are computed from. */
    static void outputs(TensorView x, TensorView y, TensorView dy, TensorView dx) {
        Checks.view(x, "x", false);
        boolean segments = Checks.anySegment(x, y == null ? x : y, dy, dx);
        if (y != null) {
            Checks.view(y, "y", true);
            Checks.sameShape(x, y, "y");
            Checks.noPartialOverlap(x, "x", y, "y", segments);
        }
        if (dy != null) {
            Checks.view(dy, "dy", false);
            Checks.sameShape(x, dy, "dy");
        }
        if (dx != null) {
            Checks.view(dx, "dx", true);
            Checks.sameShape(x, dx, "dx");
            Checks.noPartialOverlap(dy, "dy", dx, "dx", segments);
            Checks.noPartialOverlap(x, "x", dx, "dx", segments);
        }
    }

    @Override
    public String toString() {
        return backend.implementation() + (pool == null ? "" : ", " + pool.threads() + " threads");
    }
}
