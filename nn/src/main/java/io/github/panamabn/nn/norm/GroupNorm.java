package io.github.panamabn.nn.norm;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;

/**
 * PyTorch's {@code nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)}: the channels of each
 * sample in {@code num_groups} groups, each (sample, group) normalized with its own mean and biased
 * variance, then {@code * weight[c] + bias[c]}; state_dict entries weight and bias of shape [C]. Takes
 * any {@link TensorShape} with C channels, channels-first or channels-last. {@link #keras} gives
 * Keras's {@code GroupNormalization(groups, epsilon=1e-3, center=True, scale=True)}. Training and eval
 * mode compute the same thing.
 */
public class GroupNorm extends NormLayer {
    private final int numGroups;
    private final int numChannels;
    private final NormConfig config;
    private final io.github.panamabn.kernels.GroupNorm kernels;
    private SavedStatistics saved;

    /** PyTorch's defaults: eps 1e-5, affine. */
    public GroupNorm(int numGroups, int numChannels) {
        this(numGroups, numChannels, 1e-5f, true);
    }

    /** @throws IllegalArgumentException if num_groups does not divide num_channels, or eps is invalid */
    public GroupNorm(int numGroups, int numChannels, float eps, boolean affine) {
        super(check(numGroups, numChannels), affine, affine);
        this.numGroups = numGroups;
        this.numChannels = numChannels;
        this.config = NormConfig.of(eps);
        this.kernels = io.github.panamabn.kernels.GroupNorm.get();
    }

    /** Keras's {@code GroupNormalization(groups, epsilon=1e-3, center=True, scale=True)}. */
    public static GroupNorm keras(int groups, int channels) {
        return new GroupNorm(groups, channels, 1e-3f, true);
    }

    private static int check(int groups, int channels) {
        if (channels < 1 || groups < 1 || channels % groups != 0) {
            throw new IllegalArgumentException("num_channels (" + channels + ") must be divisible by num_groups ("
                    + groups + "), both positive");
        }
        return channels;
    }

    /** num_groups. */
    public int numGroups() {
        return numGroups;
    }

    /** num_channels. */
    public int numChannels() {
        return numChannels;
    }

    /** eps. */
    public float eps() {
        return config.eps();
    }

    @Override
    protected void checkInput(TensorShape shape) {
        if (shape == null) {
            throw new NullPointerException(this + ": shape must not be null");
        }
        if (shape.channels() != numChannels) {
            throw new IllegalArgumentException(this + ": input " + shape + " has " + shape.channels()
                    + " channels, expected " + numChannels);
        }
    }

    @Override
    public void forward(TensorView x, TensorView y) {
        if (x == null) {
            throw new NullPointerException(this + ": x must not be null");
        }
        checkInput(x.shape());
        try {
            int units = io.github.panamabn.kernels.GroupNorm.units(x.shape(), numGroups);
            SavedStatistics s = savedFor(saved, units);
            kernels.forward(config, numGroups, x, y, affine, s);
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
        if (saved == null || saved.channels() != x.shape().batch() * numGroups) {
            throw new IllegalStateException(this + ": backward needs the forward of the same input first");
        }
        try {
            if (dx != null) {
                kernels.backward(config, numGroups, saved, x, dy, dx,
                        weightOnly, affineScratch);
            } else {
                kernels.parameterGradients(config, numGroups, saved, x, dy, affineScratch);
            }
        } catch (IllegalArgumentException | IndexOutOfBoundsException | NullPointerException | IllegalStateException e) {
            throw named(e);
        }
        accumulateGradients();
    }

    @Override
    protected String describe() {
        return "GroupNorm(" + numGroups + ", " + numChannels + ", eps=" + config.eps() + ", affine=" + (weight != null)
                + ")";
    }
}
