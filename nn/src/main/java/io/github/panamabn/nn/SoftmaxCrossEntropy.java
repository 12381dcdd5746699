package io.github.panamabn.nn;

/**
 * Softmax followed by cross-entropy against integer class labels, averaged over the batch, as
 * PyTorch's {@code CrossEntropyLoss} on logits. Computed with the max subtracted, so large logits
 * neither overflow nor lose the gradient.
 */
public final class SoftmaxCrossEntropy {
    private SoftmaxCrossEntropy() {
    }

    /**
     * The mean loss over {@code n} rows of {@code classes} logits; writes its gradient with respect to
     * the logits into {@code dlogits} when that is not null: {@code (softmax - onehot) / n}.
     */
    public static float lossAndGradient(float[] logits, int[] labels, int n, int classes, float[] dlogits) {
        double total = 0;
        for (int s = 0; s < n; s++) {
            int row = s * classes;
            int label = labels[s];
            if (label < 0 || label >= classes) {
                throw new IllegalArgumentException("label " + label + " of row " + s + " is not in [0, " + classes + ")");
            }
            float max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < classes; k++) {
                max = Math.max(max, logits[row + k]);
            }
            double sum = 0;
            for (int k = 0; k < classes; k++) {
                sum += Math.exp(logits[row + k] - max);
            }
            total += Math.log(sum) - (logits[row + label] - max);
            if (dlogits != null) {
                for (int k = 0; k < classes; k++) {
                    double p = Math.exp(logits[row + k] - max) / sum;
                    dlogits[row + k] = (float) ((p - (k == label ? 1 : 0)) / n);
                }
            }
        }
        return (float) (total / n);
    }
}
