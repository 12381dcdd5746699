package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.util.Arrays;

/**
 * PyTorch's {@code nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)}: each
 * sample's trailing dimensions, {@code normalized_shape}, normalized with their own mean and biased
 * variance, then {@code * weight + bias} per element; state_dict entries weight and bias of shape
 * {@code normalized_shape}. Inputs are channels-first {@link TensorShape}s whose logical trailing
 * dimensions (N, C, spatial...) equal {@code normalized_shape}: for a transformer's
 * {@code [batch, tokens, hidden]} use {@code TensorShape.ncl(batch, tokens, hidden)} and
 * {@code new LayerNorm(hidden)}. {@link #keras} gives Keras's {@code LayerNormalization} defaults.
 * Training and eval mode compute the same thing.
 */
public class LayerNorm extends NormLayer {
    private final long[] normalizedShape;
    private final NormConfig config;
    private final io.github.panamabn.kernels.LayerNorm kernels;
    private SavedStatistics saved;

    /** PyTorch's defaults: eps 1e-5, weight and bias. */
    public LayerNorm(long... normalizedShape) {
        this(normalizedShape, 1e-5f, true, true);
    }

    /**
     * @param elementwiseAffine whether the layer learns a weight (and, with {@code bias}, a bias)
     * @throws IllegalArgumentException if the shape is empty or has a non-positive dimension, or eps is not
     *     positive and finite
     */
    public LayerNorm(long[] normalizedShape, float eps, boolean elementwiseAffine, boolean bias) {
        super(LayerNormShapes.features(normalizedShape), elementwiseAffine, elementwiseAffine && bias);
        this.normalizedShape = normalizedShape.clone();
        this.config = NormConfig.of(eps);
        this.kernels = io.github.panamabn.kernels.LayerNorm.get();
    }

    /** Keras's {@code LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True)} over the last {@code features}. */
    public static LayerNorm keras(long features) {
        return new LayerNorm(new long[] {features}, 1e-3f, true, true);
    }

    /** The normalized trailing dimensions. */
    public long[] normalizedShape() {
        return normalizedShape.clone();
    }

    /** eps. */
    public float eps() {
        return config.eps();
    }

    @Override
    protected void checkInput(TensorShape shape) {
        LayerNormShapes.check(this, shape, normalizedShape);
    }

    @Override
    public void forward(TensorView x, TensorView y) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkInput(x.shape());
        try {
            int rows = (int) io.github.panamabn.kernels.LayerNorm.rows(x.shape(), normalizedShape.length);
            SavedStatistics s = savedFor(saved, rows);
            kernels.forward(config, normalizedShape.length, x, y, affine, s);
            saved = s;
        } catch (IllegalArgumentException | IndexOutOfBoundsException | NullPointerException | IllegalStateException e) {
            throw named(e);
        }
    }

    /**
     * The residual add of a pre-norm block fused with this norm: {@code h = x + residual} into h, and y
     * the layer norm of h, in one sweep. Training goes on with {@code backward(h, dy, dx)}; the residual
     * stream's gradient adds to dx outside. h may be x or residual (in place); y may be anything but h.
     */
    public void forwardResidual(TensorView x, TensorView residual, TensorView h, TensorView y) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkInput(x.shape());
        try {
            int rows = (int) io.github.panamabn.kernels.LayerNorm.rows(x.shape(), normalizedShape.length);
            SavedStatistics s = savedFor(saved, rows);
            kernels.forwardResidual(config, normalizedShape.length, x, residual, h, y, affine, s);
            saved = s;
        } catch (IllegalArgumentException | IndexOutOfBoundsException | NullPointerException | IllegalStateException e) {
            throw named(e);
        }
    }

    @Override
    public void backward(TensorView x, TensorView dy, TensorView dx) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkInput(x.shape());
        long rows = io.github.panamabn.kernels.LayerNorm.rows(x.shape(), normalizedShape.length);
        if (saved == null || saved.channels() != rows) {
            throw new IllegalStateException(this + ": backward needs the forward of the same input first");
        }
        try {
            if (dx != null) {
                kernels.backward(config, normalizedShape.length, saved, x, dy, dx,
                        weightOnly, affineScratch);
            } else {
                kernels.parameterGradients(config, normalizedShape.length, saved, x, dy, affineScratch);
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException | NullPointerException | IllegalStateException e) {
            throw named(e);
        }
        accumulateGradients();
    }

    @Override
    protected long[] entryShape(String entry, float[] values) {
        return normalizedShape.clone();
    }

    @Override
    protected String describe() {
        return "LayerNorm(" + Arrays.toString(normalizedShape) + ", eps=" + config.eps() + ", elementwise_affine="
                + (weight != null) + ", bias=" + (bias != null) + ")";
    }
}
