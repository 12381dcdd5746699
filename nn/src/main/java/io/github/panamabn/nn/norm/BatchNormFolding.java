package io.github.panamabn.nn.norm;

/**
 * Folds an eval-mode batch-norm layer into the Linear or convolution before it, for inference:
 * with {@code s = gamma / sqrt(running_var + eps)}, {@code W' = W * s} row by row and
 * {@code b' = (b - running_mean) * s + beta}. The folded layer alone then computes what the two did
 * (the batch norm's fused activation, if any, is not folded: apply it after).
 */
public final class BatchNormFolding {
    private BatchNormFolding() {
    }

    /**
     * Folds {@code bn} into {@code weight} in place and returns the folded bias.
     *
     * @param weight the preceding layer's weight, output channels first as PyTorch stores Linear
     *               ({@code [out][in]}) and convolution ({@code [out][in][kh][kw]}) weights: one row per channel
     * @param bias the preceding layer's bias (updated in place and returned), or null for none (a new
     *             array is returned)
     * @throws IllegalArgumentException if the weight is not {@code numFeatures} rows, or bn keeps no running statistics
     */
    public static float[] fold(float[] weight, float[] bias, BatchNormLayer bn) {
        if (weight == null || bn == null) {
            throw new NullPointerException("weight and bn must not be null");
        }
        int channels = bn.numFeatures();
        if (weight.length == 0 || weight.length % channels != 0) {
            throw new IllegalArgumentException("weight must have one row per channel (" + channels
                    + " rows), got length " + weight.length);
        }
        if (bias != null && bias.length != channels) {
            throw new IllegalArgumentException("bias must have " + channels + " values, got " + bias.length);
        }
        if (bn.runningMean() == null) {
            throw new IllegalArgumentException("a batch norm without running statistics cannot be folded");
        }
        float[] folded = bias != null ? bias : new float[channels];
        int row = weight.length / channels;
        double eps = bn.options().eps();
        for (int c = 0; c < channels; c++) {
            double gamma = bn.weight() == null ? 1 : bn.weight()[c];
            double beta = bn.bias() == null ? 0 : bn.bias()[c];
            double s = gamma / Math.sqrt((double) bn.runningVar()[c] + eps);
            for (int k = c * row; k < (c + 1) * row; k++) {
                weight[k] = (float) (weight[k] * s);
            }
            double b = bias == null ? 0 : bias[c];
            folded[c] = (float) ((b - bn.runningMean()[c]) * s + beta);
        }
        return folded;
    }
}
