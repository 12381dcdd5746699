package io.github.panamabn.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.Sequential;
import org.junit.jupiter.api.Test;

/** The demo's parts on a short budget: the data, a seeded run, its repeatability, and folding. */
class DigitsDemoTest {

    @Test
    void theBundledDataSetIsComplete() {
        Digits d = Digits.load();
        assertEquals(1797, d.size());
        int[] perClass = new int[10];
        for (int label : d.labels()) {
            perClass[label]++;
        }
        for (int count : perClass) {
            assertTrue(count >= 170 && count <= 185, "about 180 images per class: " + java.util.Arrays.toString(perClass));
        }
        for (float f : d.features()) {
            assertTrue(f >= 0 && f <= 1);
        }
        Digits[] split = d.split(360, 2026);
        assertEquals(1437, split[0].size());
        assertEquals(360, split[1].size());
    }

    private static Training.Result shortRun(boolean batchNorm) {
        Digits[] split = Digits.load().split(360, 2026);
        Training.Config c = new Training.Config(batchNorm ? Mlp.Norm.BATCH : Mlp.Norm.NONE, 0.2f, 1, 3, 60, 0.9f, 32);
        return Training.run(c, split[0], split[1], 0.9, null);
    }

    @Test
    void batchNormTrainingLearnsAndRepeatsExactly() {
        Training.Result a = shortRun(true);
        Training.Result b = shortRun(true);
        assertTrue(a.trainLoss()[2] < a.trainLoss()[0], java.util.Arrays.toString(a.trainLoss()));
        assertTrue(a.finalAccuracy() > 0.8, "accuracy " + a.finalAccuracy());
        assertArrayEquals(a.trainLoss(), b.trainLoss());
        assertArrayEquals(a.testAccuracy(), b.testAccuracy());
    }

    @Test
    void foldedModelPredictsTheSame() {
        Training.Result r = shortRun(true);
        Digits test = Digits.load().split(360, 2026)[1];
        Sequential folded = Mlp.folded(r.model());
        assertEquals(r.model().layers().size() - 3, folded.layers().size(), "three batch norms folded away");
        assertArrayEquals(Training.predict(r.model(), test), Training.predict(folded, test));
        TensorShape shape = TensorShape.nc(test.size(), Digits.FEATURES);
        float[] a = r.model().forward(shape, test.features()).clone();
        float[] b = folded.forward(shape, test.features());
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-4 * (1 + Math.abs(a[i])));
        }
    }

    /** The small-batch experiment's parts: every norm trains, and batch norm's statistics can be recomputed. */
    @Test
    void everyNormTrainsAndPopulationStatisticsAreRecomputed() {
        Digits[] split = Digits.load().split(360, 2026);
        for (Mlp.Norm norm : new Mlp.Norm[] {Mlp.Norm.LAYER, Mlp.Norm.GROUP}) {
            Training.Config c = new Training.Config(norm, 0.2f, 1, 3, 60, 0.9f, 40);
            Training.Result r = Training.run(c, split[0], split[1], 0.9, null);
            // three short epochs: well above chance (10%) and a falling loss
            assertTrue(r.finalAccuracy() > 0.3, norm + ": accuracy " + r.finalAccuracy());
            assertTrue(r.trainLoss()[2] < r.trainLoss()[0], norm + ": " + java.util.Arrays.toString(r.trainLoss()));
        }
        Training.Result bn = shortRun(true);
        io.github.panamabn.nn.norm.BatchNormLayer first = (io.github.panamabn.nn.norm.BatchNormLayer) bn.model().layers().get(1);
        float[] before = first.runningMean().clone();
        SmallBatchDemo.recomputePopulationStatistics(bn.model(), split[0]);
        // the first batch norm's input is the first Linear's output over the training set
        io.github.panamabn.nn.Layer linear = bn.model().layers().get(0);
        float[] z = new float[split[0].size() * 32];
        linear.forward(TensorShape.nc(split[0].size(), Digits.FEATURES), split[0].features(), z);
        for (int c = 0; c < 32; c++) {
            double mean = 0;
            for (int i = 0; i < split[0].size(); i++) {
                mean += z[i * 32 + c];
            }
            mean /= split[0].size();
            assertEquals(mean, first.runningMean()[c], 1e-5 * (1 + Math.abs(mean)), "channel " + c);
        }
        assertTrue(!java.util.Arrays.equals(before, first.runningMean()), "the running averages were replaced");
        assertTrue(Training.accuracy(bn.model(), split[1]) > 0.8);
    }
}
