package io.github.panamabn.nn;

import io.github.panamabn.kernels.TensorShape;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A fully connected layer, {@code y = x W^T + b}, on {@code [N][in]} input, as PyTorch's
 * {@code Linear}: weight {@code [out][in]}, bias {@code [out]}, initialized uniformly in
 * {@code +-1/sqrt(in)} from a seed. Plain loops: the matrices of a small network are tiny, and batch
 * norm is the product.
 */
public final class Linear implements Layer {
    private final int in;
    private final int out;
    private final float[] weight;
    private final float[] bias;
    private final float[] weightGrad;
    private final float[] biasGrad;

    /** A layer from {@code in} to {@code out} features, initialized from {@code seed}. */
    public Linear(int in, int out, long seed) {
        if (in <= 0 || out <= 0) {
            throw new IllegalArgumentException("in and out must be positive, got " + in + " and " + out);
        }
        this.in = in;
        this.out = out;
        this.weight = new float[out * in];
        this.bias = new float[out];
        this.weightGrad = new float[out * in];
        this.biasGrad = new float[out];
        SplittableRandom r = new SplittableRandom(seed);
        double bound = 1 / Math.sqrt(in);
        for (int i = 0; i < weight.length; i++) {
            weight[i] = (float) r.nextDouble(-bound, bound);
        }
        for (int i = 0; i < out; i++) {
            bias[i] = (float) r.nextDouble(-bound, bound);
        }
    }

    /** Input features. */
    public int inFeatures() {
        return in;
    }

    /** Output features. */
    public int outFeatures() {
        return out;
    }

    /** The weight, {@code [out][in]} row-major, live. */
    public float[] weight() {
        return weight;
    }

    /** The bias, live. */
    public float[] bias() {
        return bias;
    }

    @Override
    public TensorShape outputShape(TensorShape input) {
        check(input);
        return TensorShape.nc(input.batch(), out);
    }

    private void check(TensorShape shape) {
        if (shape.spatialRank() != 0 || shape.channels() != in) {
            throw new IllegalArgumentException("Linear expected input (N, " + in + "), got " + shape);
        }
    }

    @Override
    public void forward(TensorShape shape, float[] x, float[] y) {
        check(shape);
        int n = Math.toIntExact(shape.batch());
        for (int s = 0; s < n; s++) {
            for (int o = 0; o < out; o++) {
                y[s * out + o] = bias[o] + dot(x, s * in, weight, o * in, in);
            }
        }
    }

    /** A dot product with four partial sums (the JIT does not reorder float additions by itself). */
    static float dot(float[] a, int aFrom, float[] b, int bFrom, int len) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int i = 0;
        for (; i + 4 <= len; i += 4) {
            s0 += a[aFrom + i] * b[bFrom + i];
            s1 += a[aFrom + i + 1] * b[bFrom + i + 1];
            s2 += a[aFrom + i + 2] * b[bFrom + i + 2];
            s3 += a[aFrom + i + 3] * b[bFrom + i + 3];
        }
        for (; i < len; i++) {
            s0 += a[aFrom + i] * b[bFrom + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void backward(TensorShape shape, float[] x, float[] y, float[] dy, float[] dx) {
        check(shape);
        int n = Math.toIntExact(shape.batch());
        for (int s = 0; s < n; s++) {
            for (int o = 0; o < out; o++) {
                float g = dy[s * out + o];
                biasGrad[o] += g;
                int w = o * in;
                int xs = s * in;
                for (int i = 0; i < in; i++) {
                    weightGrad[w + i] += g * x[xs + i];
                }
            }
        }
        if (dx != null) {
            java.util.Arrays.fill(dx, 0, n * in, 0f);
            for (int s = 0; s < n; s++) {
                int xs = s * in;
                for (int o = 0; o < out; o++) {
                    float g = dy[s * out + o];
                    int w = o * in;
                    for (int i = 0; i < in; i++) {
                        dx[xs + i] += g * weight[w + i];
                    }
                }
            }
        }
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(new Parameter("weight", weight, weightGrad), new Parameter("bias", bias, biasGrad));
    }
}
