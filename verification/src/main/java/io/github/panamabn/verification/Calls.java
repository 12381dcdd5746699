package io.github.panamabn.verification;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GradientMode;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.lang.foreign.MemorySegment;

/**
 * The facade's calls in the flat form the property suites drive them in (a tensor as an array and an
 * offset, or a segment from byte 0; a per-channel array or null for "none"), each made through the
 * public API on views and parameter objects. The suites state data this way; what they check is the
 * public API. A view here is a window (the array or segment may be longer than the shape), and a
 * missing saveMean or saveInvStd is written to scratch.
 */
public final class Calls {
    private Calls() {
    }

    private static TensorView view(TensorShape shape, float[] a, int offset) {
        return a == null ? null : TensorView.of(shape, a, offset);
    }

    private static TensorView view(TensorShape shape, MemorySegment s) {
        return s == null ? null : TensorView.of(shape, s, 0);
    }

    /** Null for null arrays, so the facade's own check names what is missing. */
    static Affine affine(float[] weight, float[] bias) {
        if (weight != null && bias != null) {
            return Affine.of(weight, bias);
        }
        return weight != null ? Affine.weightOnly(weight) : bias != null ? Affine.biasOnly(bias) : Affine.none();
    }

    private static SavedStatistics saved(float[] mean, float[] invStd, int channels) {
        if (mean == null && invStd == null) {
            return null;
        }
        return SavedStatistics.of(mean != null ? mean : new float[channels], invStd != null ? invStd : new float[channels]);
    }

    /** {@link BatchNorm#statistics} of a window of an array. */
    public static void statistics(BatchNorm bn, TensorShape shape, float[] x, int xOffset, ChannelStatistics out) {
        bn.statistics(view(shape, x, xOffset), out);
    }

    /** {@link BatchNorm#statistics} of a segment from byte 0. */
    public static void statistics(BatchNorm bn, TensorShape shape, MemorySegment x, ChannelStatistics out) {
        bn.statistics(view(shape, x), out);
    }

    /** Training forward on arrays; null gamma, beta, stats, saveMean, saveInvStd for none. */
    public static void forwardTraining(BatchNorm bn, TensorShape shape, float[] x, int xOffset, float[] y, int yOffset,
                                       float[] gamma, float[] beta, float eps, Activation activation,
                                       ChannelStatistics stats, float[] saveMean, float[] saveInvStd) {
        train(bn, shape, view(shape, x, xOffset), view(shape, y, yOffset), gamma, beta, eps, activation, stats,
                saveMean, saveInvStd);
    }

    /** Training forward on segments. */
    public static void forwardTraining(BatchNorm bn, TensorShape shape, MemorySegment x, MemorySegment y,
                                       float[] gamma, float[] beta, float eps, Activation activation,
                                       ChannelStatistics stats, float[] saveMean, float[] saveInvStd) {
        train(bn, shape, view(shape, x), view(shape, y), gamma, beta, eps, activation, stats, saveMean, saveInvStd);
    }

    private static void train(BatchNorm bn, TensorShape shape, TensorView x, TensorView y, float[] gamma,
                              float[] beta, float eps, Activation activation, ChannelStatistics stats,
                              float[] saveMean, float[] saveInvStd) {
        NormConfig config = new NormConfig(eps, activation);
        SavedStatistics save = saved(saveMean, saveInvStd, shape.channels());
        if (stats != null) {
            bn.forwardTraining(config, x, y, affine(gamma, beta),
                    save != null ? save : new SavedStatistics(shape.channels()), stats);
        } else if (save != null) {
            bn.forwardTraining(config, x, y, affine(gamma, beta), save);
        } else {
            bn.forwardTraining(config, x, y, affine(gamma, beta));
        }
    }

    /** Training forward with given statistics on arrays. */
    public static void forwardWithStatistics(BatchNorm bn, TensorShape shape, float[] x, int xOffset, float[] y,
                                             int yOffset, ChannelStatistics batchStatistics, float[] gamma,
                                             float[] beta, float eps, Activation activation, float[] saveMean,
                                             float[] saveInvStd) {
        NormConfig config = new NormConfig(eps, activation);
        SavedStatistics save = saved(saveMean, saveInvStd, shape.channels());
        if (save != null) {
            bn.forwardWithStatistics(config, batchStatistics, view(shape, x, xOffset), view(shape, y, yOffset),
                    affine(gamma, beta), save);
        } else {
            bn.forwardWithStatistics(config, batchStatistics, view(shape, x, xOffset), view(shape, y, yOffset),
                    affine(gamma, beta));
        }
    }

    /** Inference forward on arrays. */
    public static void forwardInference(BatchNorm bn, TensorShape shape, float[] x, int xOffset, float[] y,
                                        int yOffset, float[] mean, float[] var, float[] gamma, float[] beta,
                                        float eps, Activation activation) {
        bn.forwardInference(new NormConfig(eps, activation), RunningStatistics.of(mean, var),
                view(shape, x, xOffset), view(shape, y, yOffset), affine(gamma, beta));
    }

    /** Inference forward on segments. */
    public static void forwardInference(BatchNorm bn, TensorShape shape, MemorySegment x, MemorySegment y,
                                        float[] mean, float[] var, float[] gamma, float[] beta, float eps,
                                        Activation activation) {
        bn.forwardInference(new NormConfig(eps, activation), RunningStatistics.of(mean, var), view(shape, x),
                view(shape, y), affine(gamma, beta));
    }

    /** Backward on arrays; null y (without ReLU), dx, gamma, dgamma, dbeta for none. */
    public static void backward(BatchNorm bn, TensorShape shape, float[] x, int xOffset, float[] dy, int dyOffset,
                                float[] y, int yOffset, float[] dx, int dxOffset, float[] gamma, float[] mean,
                                float[] invStd, boolean training, Activation activation, float[] dgamma,
                                float[] dbeta) {
        backward(bn, view(shape, x, xOffset), view(shape, dy, dyOffset), view(shape, y, yOffset),
                view(shape, dx, dxOffset), gamma, mean, invStd, training, activation, dgamma, dbeta);
    }

    /** Backward on segments. */
    public static void backward(BatchNorm bn, TensorShape shape, MemorySegment x, MemorySegment dy, MemorySegment y,
                                MemorySegment dx, float[] gamma, float[] mean, float[] invStd, boolean training,
                                Activation activation, float[] dgamma, float[] dbeta) {
        backward(bn, view(shape, x), view(shape, dy), view(shape, y), view(shape, dx), gamma, mean, invStd,
                training, activation, dgamma, dbeta);
    }

    private static void backward(BatchNorm bn, TensorView x, TensorView dy, TensorView y, TensorView dx,
                                 float[] gamma, float[] mean, float[] invStd, boolean training,
                                 Activation activation, float[] dgamma, float[] dbeta) {
        NormConfig config = NormConfig.DEFAULT.withActivation(activation);
        GradientMode mode = training ? GradientMode.BATCH_STATISTICS : GradientMode.FIXED_STATISTICS;
        SavedStatistics saved = SavedStatistics.of(mean, invStd);
        Affine grads = affine(dgamma, dbeta);
        if (y == null && activation != Activation.RELU) {
            if (dx == null) {
                bn.parameterGradients(config, mode, saved, x, dy, grads);
            } else {
                bn.backward(config, mode, saved, x, dy, dx, affine(gamma, null), grads);
            }
        } else if (dx == null) {
            bn.parameterGradients(config, mode, saved, x, y, dy, grads);
        } else {
            bn.backward(config, mode, saved, x, y, dy, dx, affine(gamma, null), grads);
        }
    }
}
