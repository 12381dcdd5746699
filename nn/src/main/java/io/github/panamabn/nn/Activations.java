package io.github.panamabn.nn;

import io.github.panamabn.kernels.TensorShape;

/** Elementwise activations as layers: {@link #relu()} and {@link #sigmoid()}. */
public final class Activations {
    private Activations() {
    }

    /** {@code max(0, x)}; its gradient passes where the output is positive. */
    public static Layer relu() {
        return new Elementwise() {
            @Override
            float apply(float x) {
                return Math.max(0f, x);
            }

            @Override
            float derivative(float x, float y) {
                return y > 0 ? 1f : 0f;
            }

            @Override
            public String toString() {
                return "ReLU";
            }
        };
    }

    /** {@code 1 / (1 + exp(-x))}; its derivative is {@code y (1 - y)}. */
    public static Layer sigmoid() {
        return new Elementwise() {
            @Override
            float apply(float x) {
                return (float) (1 / (1 + Math.exp(-x)));
            }

            @Override
            float derivative(float x, float y) {
                return y * (1 - y);
            }

            @Override
            public String toString() {
                return "Sigmoid";
            }
        };
    }

    private abstract static class Elementwise implements Layer {
        abstract float apply(float x);

        abstract float derivative(float x, float y);

        @Override
        public TensorShape outputShape(TensorShape input) {
            return input;
        }

        @Override
        public void forward(TensorShape shape, float[] x, float[] y) {
            int n = Math.toIntExact(shape.elementCount());
            for (int i = 0; i < n; i++) {
                y[i] = apply(x[i]);
            }
        }

        @Override
        public void backward(TensorShape shape, float[] x, float[] y, float[] dy, float[] dx) {
            if (dx == null) {
                return;
            }
            int n = Math.toIntExact(shape.elementCount());
            for (int i = 0; i < n; i++) {
                dx[i] = dy[i] * derivative(x[i], y[i]);
            }
        }
    }
}
