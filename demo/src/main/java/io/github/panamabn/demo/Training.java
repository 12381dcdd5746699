package io.github.panamabn.demo;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.Sequential;
import io.github.panamabn.nn.Sgd;
import io.github.panamabn.nn.SoftmaxCrossEntropy;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/** Seeded minibatch training with test accuracy tracked along the way. */
final class Training {
    /** What a run is: its norm, learning rate, seed, epochs, batch size, momentum and hidden width. */
    record Config(Mlp.Norm norm, float learningRate, long seed, int epochs, int batchSize, float momentum,
                  int width) {
        String label() {
            return (norm == Mlp.Norm.BATCH ? "BN" : norm == Mlp.Norm.NONE ? "no BN" : norm.label) + ", lr "
                    + learningRate;
        }
    }

    /**
     * What happened.
     *
     * @param testAccuracy test accuracy after each epoch
     * @param trainLoss mean training loss of each epoch
     * @param stepsToTarget the first step count at which test accuracy reached the target (checked every
     *                      {@link #CHECK_SAMPLES} training samples), or -1
     */
    record Result(Config config, double[] testAccuracy, double[] trainLoss, int stepsToTarget, Sequential model) {
        double finalAccuracy() {
            return testAccuracy[testAccuracy.length - 1];
        }
    }

    /** Test accuracy is checked for the target every this many training samples (8 steps of 60). */
    static final int CHECK_SAMPLES = 480;

    private Training() {
    }

    static Result run(Config config, Digits train, Digits test, double target, Consumer<String> progress) {
        Sequential model = Mlp.build(Digits.FEATURES, config.width(), Digits.CLASSES, config.norm(), config.seed());
        int checkEvery = Math.max(1, Math.round((float) CHECK_SAMPLES / config.batchSize()));
        Sgd sgd = new Sgd(model.parameters(), config.learningRate(), config.momentum());
        SplittableRandom order = new SplittableRandom(config.seed() ^ 0xD1617L);
        double[] accuracy = new double[config.epochs()];
        double[] loss = new double[config.epochs()];
        int stepsToTarget = -1;
        int step = 0;
        float[] batchX = new float[config.batchSize() * Digits.FEATURES];
        int[] batchY = new int[config.batchSize()];
        float[] dLogits = new float[config.batchSize() * Digits.CLASSES];
        for (int epoch = 0; epoch < config.epochs(); epoch++) {
            int[] p = Digits.permutation(train.size(), order);
            double lossSum = 0;
            int batches = 0;
            for (int start = 0; start < p.length; start += config.batchSize()) {
                int n = Math.min(config.batchSize(), p.length - start);
                if (n < 2) {
                    continue; // batch norm needs more than one value per channel
                }
                for (int i = 0; i < n; i++) {
                    System.arraycopy(train.features(), p[start + i] * Digits.FEATURES, batchX, i * Digits.FEATURES,
                            Digits.FEATURES);
                    batchY[i] = train.labels()[p[start + i]];
                }
                model.setTraining(true);
                float[] logits = model.forward(TensorShape.nc(n, Digits.FEATURES), batchX);
                lossSum += SoftmaxCrossEntropy.lossAndGradient(logits, batchY, n, Digits.CLASSES, dLogits);
                batches++;
                sgd.zeroGrad();
                model.backward(dLogits);
                sgd.step();
                step++;
                if (stepsToTarget < 0 && step % checkEvery == 0 && accuracy(model, test) >= target) {
                    stepsToTarget = step;
                }
            }
            loss[epoch] = lossSum / batches;
            accuracy[epoch] = accuracy(model, test);
            if (progress != null && (epoch % 5 == 4 || epoch == config.epochs() - 1)) {
                progress.accept(String.format("  [%s, seed %d] epoch %2d/%d  train loss %.4f  test accuracy %5.1f%%",
                        config.label(), config.seed(), epoch + 1, config.epochs(), loss[epoch], 100 * accuracy[epoch]));
            }
        }
        model.setTraining(false);
        return new Result(config, accuracy, loss, stepsToTarget, model);
    }

    /** Test accuracy in eval mode. */
    static double accuracy(Sequential model, Digits data) {
        int[] predicted = predict(model, data);
        int correct = 0;
        for (int i = 0; i < predicted.length; i++) {
            if (predicted[i] == data.labels()[i]) {
                correct++;
            }
        }
        return (double) correct / data.size();
    }

    /** Eval-mode class predictions (argmax of the logits). */
    static int[] predict(Sequential model, Digits data) {
        model.setTraining(false);
        float[] logits = model.forward(TensorShape.nc(data.size(), Digits.FEATURES), data.features());
        int[] out = new int[data.size()];
        for (int i = 0; i < out.length; i++) {
            int best = 0;
            for (int k = 1; k < Digits.CLASSES; k++) {
                if (logits[i * Digits.CLASSES + k] > logits[i * Digits.CLASSES + best]) {
                    best = k;
                }
            }
            out[i] = best;
        }
        return out;
    }
}
