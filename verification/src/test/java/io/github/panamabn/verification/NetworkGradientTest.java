package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.Activations;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.Layer;
import io.github.panamabn.nn.Linear;
import io.github.panamabn.nn.Parameter;
import io.github.panamabn.nn.Sequential;
import io.github.panamabn.nn.Sgd;
import io.github.panamabn.nn.SoftmaxCrossEntropy;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The network pieces beside batch norm, by central finite differences of the loss through a whole
 * Sequential (float forward, so steps and tolerances are float-sized), plus a seeded training run.
 */
class NetworkGradientTest {
    private static final int N = 6;
    private static final int IN = 5;
    private static final int CLASSES = 4;

    private static float[] input(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[N * IN];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-1, 1);
        }
        return x;
    }

    private static final int[] LABELS = {0, 1, 2, 3, 1, 2};

    private static double loss(Sequential net, float[] x) {
        float[] logits = net.forward(TensorShape.nc(N, IN), x);
        return SoftmaxCrossEntropy.lossAndGradient(logits, LABELS, N, CLASSES, null);
    }

    /** Analytic gradients of every parameter and of the input against central differences. */
    private static void checkGradients(Sequential net) {
        float[] x = input(3);
        net.setTraining(true);
        float[] logits = net.forward(TensorShape.nc(N, IN), x);
        float[] dLogits = new float[N * CLASSES];
        SoftmaxCrossEntropy.lossAndGradient(logits, LABELS, N, CLASSES, dLogits);
        for (Parameter p : net.parameters()) {
            p.zeroGrad();
        }
        net.backward(dLogits);
        float h = 1e-2f;
        for (Parameter p : net.parameters()) {
            for (int i = 0; i < p.value().length; i += Math.max(1, p.value().length / 7)) {
                float saved = p.value()[i];
                p.value()[i] = saved + h;
                double plus = loss(net, x);
                p.value()[i] = saved - h;
                double minus = loss(net, x);
                p.value()[i] = saved;
                double fd = (plus - minus) / (2 * h);
                assertEquals(fd, p.grad()[i], 2e-3 + 2e-2 * Math.abs(fd), p.name() + "[" + i + "] of " + net.layers());
            }
        }
    }

    @Test
    void linearSigmoidReluAndLossGradientsMatchFiniteDifferences() {
        checkGradients(new Sequential(new Linear(IN, 7, 1), Activations.sigmoid(), new Linear(7, 6, 2),
                Activations.relu(), new Linear(6, CLASSES, 3)));
    }

    @Test
    void gradientsThroughBatchNormMatchFiniteDifferences() {
        BatchNorm1d bn = new BatchNorm1d(7);
        SplittableRandom r = new SplittableRandom(5);
        for (int c = 0; c < 7; c++) {
            bn.weight()[c] = (float) r.nextDouble(0.5, 1.5);
            bn.bias()[c] = (float) r.nextDouble(-0.5, 0.5);
        }
        checkGradients(new Sequential(new Linear(IN, 7, 1), bn, Activations.sigmoid(), new Linear(7, CLASSES, 3)));
    }

    @Test
    void lossGradientIsSoftmaxMinusOneHotOverN() {
        float[] logits = {1000f, 0f, -1000f, 3f};
        float[] d = new float[4];
        float loss = SoftmaxCrossEntropy.lossAndGradient(logits, new int[] {0}, 1, 4, d);
        assertTrue(Float.isFinite(loss) && loss < 1e-6, "large logits neither overflow nor lose the loss: " + loss);
        assertEquals(0f, d[0], 1e-6f);
        assertEquals(0f, d[2], 1e-6f);
    }

    @Test
    void seededTrainingLowersTheLossAndRepeatsExactly() {
        double[] first = train();
        double[] second = train();
        assertTrue(first[first.length - 1] < 0.5 * first[0], "loss from " + first[0] + " to " + first[first.length - 1]);
        assertEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(second));
    }

    private static double[] train() {
        Layer[] layers = {new Linear(IN, 16, 11), new BatchNorm1d(16), Activations.sigmoid(), new Linear(16, CLASSES, 12)};
        Sequential net = new Sequential(layers);
        Sgd sgd = new Sgd(net.parameters(), 0.5f, 0.9f);
        float[] x = input(7);
        double[] losses = new double[40];
        float[] d = new float[N * CLASSES];
        for (int step = 0; step < losses.length; step++) {
            float[] logits = net.forward(TensorShape.nc(N, IN), x);
            losses[step] = SoftmaxCrossEntropy.lossAndGradient(logits, LABELS, N, CLASSES, d);
            sgd.zeroGrad();
            net.backward(d);
            sgd.step();
        }
        return losses;
    }
}
