package io.github.panamabn.nn;

import io.github.panamabn.kernels.TensorShape;
import java.util.List;

/**
 * A differentiable layer of a {@link Sequential} network. Tensors are dense {@code float[]} from
 * index 0, described by a {@link TensorShape}. Layers keep no reference to the tensors they are given:
 * backward receives the forward's input and output again.
 */
public interface Layer {
    /** The shape of the output for an input of {@code input}'s shape. */
    TensorShape outputShape(TensorShape input);

    /** Forward pass of x into y. */
    void forward(TensorShape shape, float[] x, float[] y);

    /**
     * Backward pass: given the forward's input x, its output y and the output gradient dy, writes the
     * input gradient into dx (null to skip) and adds the parameter gradients to {@link #parameters()}.
     */
    void backward(TensorShape shape, float[] x, float[] y, float[] dy, float[] dx);

    /** The learnable parameters with their gradients (empty for none). */
    default List<Parameter> parameters() {
        return List.of();
    }

    /** Switches to training (true) or eval (false) mode; layers without modes ignore it. */
    default void setTraining(boolean training) {
    }
}
