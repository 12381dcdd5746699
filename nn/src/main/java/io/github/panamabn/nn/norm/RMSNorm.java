package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.util.Arrays;

/**
 * PyTorch's {@code nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)}:
 * {@code y = x / sqrt(mean(x^2) + eps) * weight} over each sample's trailing dimensions; eps None means
 * float32's machine epsilon ({@code torch.finfo(torch.float32).eps}, 2^-23); state_dict entry weight of
 * shape {@code normalized_shape}. Inputs as for {@link LayerNorm}. {@link #keras} gives Keras's
 * {@code RMSNormalization(axis=-1, epsilon=1e-6)}.
 */
public class RMSNorm extends NormLayer {
    /** What eps None means: float32's machine epsilon. */
    public static final float DEFAULT_EPS = Math.ulp(1f);

    private final long[] normalizedShape;
    private final NormConfig config;
    private final RmsNorm kernels;
    private SavedStatistics saved;

    /** PyTorch's defaults: eps None (float epsilon), a weight. */
    public RMSNorm(long... normalizedShape) {
        this(normalizedShape, null, true);
    }

    /**
     * @param eps null for {@link #DEFAULT_EPS}
     * @param elementwiseAffine whether the layer learns a weight
     */
    public RMSNorm(long[] normalizedShape, Float eps, boolean elementwiseAffine) {
        super(LayerNormShapes.features(normalizedShape), elementwiseAffine, false);
        this.normalizedShape = normalizedShape.clone();
        this.config = NormConfig.of(eps == null ? DEFAULT_EPS : eps);
        this.kernels = RmsNorm.get();
    }

    /** Keras's {@code RMSNormalization(axis=-1, epsilon=1e-6)} over the last {@code features}, with its scale. */
    public static RMSNorm keras(long features) {
        return new RMSNorm(new long[] {features}, 1e-6f, true);
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
     * the RMS norm of h, in one sweep. Training goes on with {@code backward(h, dy, dx)}; the residual
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
                kernels.backward(config, normalizedShape.length, saved, x, dy, dx, affine, affineScratch);
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
        return "RMSNorm(" + Arrays.toString(normalizedShape) + ", eps=" + config.eps() + ", elementwise_affine="
                + (weight != null) + ")";
    }
}
