package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;

/**
 * This thread's views for a layer call given {@code float[]}s: rebound per call, so the call allocates
 * nothing, and unbound after it, so no tensor stays reachable from the thread.
 */
final class ArrayViews {
    private static final TensorShape IDLE_SHAPE = TensorShape.nc(1, 1);
    private static final float[] IDLE = new float[1];
    private static final ThreadLocal<ArrayViews> PER_THREAD = ThreadLocal.withInitial(ArrayViews::new);

    private final TensorView x = TensorView.of(IDLE_SHAPE, IDLE);
    private final TensorView y = TensorView.of(IDLE_SHAPE, IDLE);
    private final TensorView dy = TensorView.of(IDLE_SHAPE, IDLE);
    private final TensorView dx = TensorView.of(IDLE_SHAPE, IDLE);

    private ArrayViews() {
    }

    static ArrayViews get() {
        return PER_THREAD.get();
    }

    TensorView x(Object layer, TensorShape shape, float[] data) {
        return bind(x, layer, shape, data, "x");
    }

    TensorView y(Object layer, TensorShape shape, float[] data) {
        return bind(y, layer, shape, data, "y");
    }

    TensorView dy(Object layer, TensorShape shape, float[] data) {
        return bind(dy, layer, shape, data, "dy");
    }

    TensorView dx(Object layer, TensorShape shape, float[] data) {
        return bind(dx, layer, shape, data, "dx");
    }

    /** Binds a whole array, with an error naming the layer and the argument. */
    private static TensorView bind(TensorView view, Object layer, TensorShape shape, float[] data, String name) {
        if (data == null) {
            throw new NullPointerException(layer + ": " + name + " must not be null");
        }
        if (data.length != shape.elementCount()) {
            throw new IllegalArgumentException(layer + ": " + name + " has length " + data.length + " but shape "
                    + shape + " has " + shape.elementCount() + " elements (pass a TensorView to use a window of a "
                    + "larger array)");
        }
        return view.bind(shape, data);
    }

    /** Drops the references to the call's arrays. */
    void release() {
        x.bind(IDLE_SHAPE, IDLE);
        y.bind(IDLE_SHAPE, IDLE);
        dy.bind(IDLE_SHAPE, IDLE);
        dx.bind(IDLE_SHAPE, IDLE);
    }
}
