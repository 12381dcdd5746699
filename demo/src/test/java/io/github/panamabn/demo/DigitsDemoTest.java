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
        Training.Config c = new Training.Config(batchNorm, 0.2f, 1, 3, 60, 0.9f, 32);
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
}
