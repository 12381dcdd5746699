package io.github.panamabn.nn;

import java.util.ArrayList;
import java.util.List;

/**
 * Stochastic gradient descent with momentum, PyTorch's convention: {@code v = momentum * v + grad},
 * {@code p = p - lr * v} (no dampening, no weight decay).
 */
public final class Sgd {
    private final List<Parameter> parameters;
    private final List<float[]> velocity = new ArrayList<>();
    private final float momentum;
    private float learningRate;

    /** Plain SGD (momentum 0, PyTorch's default) over {@code parameters}. */
    public Sgd(List<Parameter> parameters, float learningRate) {
        this(parameters, learningRate, 0f);
    }

    /** An optimizer over {@code parameters}. */
    public Sgd(List<Parameter> parameters, float learningRate, float momentum) {
        if (!(learningRate > 0) || !(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("need learningRate > 0 and momentum in [0, 1), got "
                    + learningRate + " and " + momentum);
        }
        this.parameters = List.copyOf(parameters);
        this.learningRate = learningRate;
        this.momentum = momentum;
        for (Parameter p : parameters) {
            velocity.add(new float[p.value().length]);
        }
    }

    /** The learning rate. */
    public float learningRate() {
        return learningRate;
    }

    /** One update of every parameter from its gradient. */
    public void step() {
        for (int j = 0; j < parameters.size(); j++) {
            float[] value = parameters.get(j).value();
            float[] grad = parameters.get(j).grad();
            float[] v = velocity.get(j);
            for (int i = 0; i < value.length; i++) {
                v[i] = momentum * v[i] + grad[i];
                value[i] -= learningRate * v[i];
            }
        }
    }

    /** Clears every gradient. */
    public void zeroGrad() {
        for (Parameter p : parameters) {
            p.zeroGrad();
        }
    }
}
