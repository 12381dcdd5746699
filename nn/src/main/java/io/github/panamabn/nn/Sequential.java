package io.github.panamabn.nn;

import io.github.panamabn.kernels.TensorShape;
import java.util.ArrayList;
import java.util.List;

/**
 * Layers applied in order. Keeps each layer's output from the last {@link #forward} for
 * {@link #backward}, in buffers reused across calls (remade when the batch size changes), so an instance is
 * used by one thread at a time.
 */
public final class Sequential {
    private final List<Layer> layers;
    private final float[][] outputs;
    private final float[][] gradients = new float[2][];
    private TensorShape[] shapes;
    private float[] input;

    /** A network of these layers, first to last. */
    public Sequential(Layer... layers) {
        if (layers.length == 0) {
            throw new IllegalArgumentException("a Sequential needs at least one layer");
        }
        this.layers = List.of(layers);
        this.outputs = new float[layers.length][];
    }

    /** The layers, first to last. */
    public List<Layer> layers() {
        return layers;
    }

    /** Every layer's parameters, in order. */
    public List<Parameter> parameters() {
        List<Parameter> all = new ArrayList<>();
        for (Layer l : layers) {
            all.addAll(l.parameters());
        }
        return all;
    }

    /** Training (true) or eval (false) mode for every layer. */
    public void setTraining(boolean training) {
        for (Layer l : layers) {
            l.setTraining(training);
        }
    }

    /** The output shape for an input of {@code input}'s shape. */
    public TensorShape outputShape(TensorShape input) {
        TensorShape s = input;
        for (Layer l : layers) {
            s = l.outputShape(s);
        }
        return s;
    }

    /** Runs every layer; returns the last one's output, a buffer valid until the next call. */
    public float[] forward(TensorShape shape, float[] x) {
        shapes = new TensorShape[layers.size() + 1];
        shapes[0] = shape;
        input = x;
        float[] current = x;
        for (int i = 0; i < layers.size(); i++) {
            shapes[i + 1] = layers.get(i).outputShape(shapes[i]);
            int size = Math.toIntExact(shapes[i + 1].elementCount());
            if (outputs[i] == null || outputs[i].length != size) {
                outputs[i] = new float[size];
            }
            layers.get(i).forward(shapes[i], current, outputs[i]);
            current = outputs[i];
        }
        return current;
    }

    /**
     * Backpropagates {@code dOutput}, the gradient of the loss with respect to the last forward's
     * output, through every layer, accumulating parameter gradients.
     */
    public void backward(float[] dOutput) {
        if (shapes == null) {
            throw new IllegalStateException("backward needs a forward first");
        }
        float[] dy = dOutput;
        for (int i = layers.size() - 1; i >= 0; i--) {
            float[] x = i == 0 ? input : outputs[i - 1];
            float[] dx = null;
            if (i > 0) {
                int size = Math.toIntExact(shapes[i].elementCount());
                int slot = i % 2;
                if (gradients[slot] == null || gradients[slot].length != size) {
                    gradients[slot] = new float[size];
                }
                dx = gradients[slot];
            }
            layers.get(i).backward(shapes[i], x, outputs[i], dy, dx);
            dy = dx;
        }
    }
}
