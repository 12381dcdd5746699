package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.BatchNorm2d;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The README's usage example is this code: the test runs it and checks the README still shows it. */
class ReadmeExampleTest {

    static float[] example() {
        // example:start
        TensorShape shape = TensorShape.nchw(8, 16, 28, 28);      // N, C, H, W
        float[] x = new float[(int) shape.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i) * 3 + 5;
        }
        float[] y = new float[x.length];
        float[] gamma = new float[16];
        float[] beta = new float[16];
        java.util.Arrays.fill(gamma, 1f);

        BatchNorm bn = BatchNorm.get();                            // PANAMA when jdk.incubator.vector is present
        ChannelStatistics stats = new ChannelStatistics(16);
        float[] saveMean = new float[16];
        float[] saveInvStd = new float[16];
        bn.forwardTraining(shape, x, 0, y, 0, gamma, beta, 1e-5f, Activation.RELU, stats, saveMean, saveInvStd);

        // Later, in inference: normalize with fixed statistics, in place.
        float[] runningVar = new float[16];
        for (int c = 0; c < 16; c++) {
            runningVar[c] = (float) stats.unbiasedVariance(c);
        }
        bn.forwardInference(shape, x, 0, x, 0, saveMean, runningVar, gamma, beta, 1e-5f, Activation.IDENTITY);
        // example:end
        return y;
    }

    static BatchNorm2d layerExample(Path dir) throws IOException {
        // layer-example:start
        BatchNorm2d bn = new BatchNorm2d(16);                     // eps 1e-5, momentum 0.1, affine, running stats
        TensorShape shape = TensorShape.nhwc(8, 28, 28, 16);       // channels-last works the same
        float[] x = new float[(int) shape.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.cos(i) * 2 + 1;
        }
        float[] y = new float[x.length];
        float[] dy = new float[x.length];
        java.util.Arrays.fill(dy, 0.01f);
        float[] dx = new float[x.length];

        bn.forward(shape, x, y);                                   // training step: batch statistics,
        bn.backward(shape, x, y, dy, dx);                          // running stats updated, grads accumulated
        for (int c = 0; c < 16; c++) {
            bn.weight()[c] -= 0.1f * bn.weightGrad()[c];           // a plain SGD step
            bn.bias()[c] -= 0.1f * bn.biasGrad()[c];
        }
        bn.zeroGrad();

        bn.eval();
        bn.forward(shape, x, y);                                   // eval: running statistics, thread-safe
        bn.save(dir.resolve("bn.safetensors"));                    // PyTorch state_dict names
        // layer-example:end
        return bn;
    }

    static float[][] threadsExample() {
        // threads-example:start
        TensorShape shape = TensorShape.nchw(8, 64, 28, 28);
        float[] x = new float[(int) shape.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i) * 3 + 5;
        }
        float[] y1 = new float[x.length];
        float[] y2 = new float[x.length];

        BatchNorm one = BatchNorm.get();                           // the calling thread
        BatchNorm two = BatchNorm.get().withThreads(2);            // the calling thread and a shared worker
        one.forwardTraining(shape, x, 0, y1, 0, null, null, 1e-5f, Activation.IDENTITY, null, null, null);
        two.forwardTraining(shape, x, 0, y2, 0, null, null, 1e-5f, Activation.IDENTITY, null, null, null);
        // y1 and y2 are the same bits: the work is cut by the shape, never by the thread count

        BatchNorm2d layer = new BatchNorm2d(64);
        layer.setKernels(two);                                     // a layer on two threads
        // threads-example:end
        return new float[][] {y1, y2};
    }

    @Test
    void threadsExampleGivesTheSameBits() {
        float[][] y = threadsExample();
        assertTrue(java.util.Arrays.equals(y[0], y[1]));
    }

    @Test
    void layerExampleRunsAndSaves(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        BatchNorm2d bn = layerExample(dir);
        assertEquals(1, bn.numBatchesTracked());
        BatchNorm2d loaded = new BatchNorm2d(16);
        loaded.load(dir.resolve("bn.safetensors"));
        assertEquals(bn.runningMean()[3], loaded.runningMean()[3]);
    }

    @Test
    void exampleRunsAndNormalizes() {
        float[] y = example();
        double min = Double.MAX_VALUE;
        for (float v : y) {
            min = Math.min(min, v);
        }
        assertEquals(0.0, min, "ReLU output is clamped at 0 and some values are negative before it");
    }

    @Test
    void readmeShowsTheseExamples() throws IOException {
        String source = Files.readString(Path.of("src/test/java/io/github/panamabn/verification/ReadmeExampleTest.java"));
        String readme = Files.readString(Path.of("../README.md"));
        for (String name : new String[] {"example", "layer-example", "threads-example"}) {
            String code = between(source, "// " + name + ":start\n", "        // " + name + ":end");
            String expected = code.lines().map(l -> l.length() >= 8 ? l.substring(8) : l.strip())
                    .collect(Collectors.joining("\n"));
            assertTrue(readme.contains(expected), "README.md must contain " + name + " exactly as in this test:\n" + expected);
        }
    }

    private static String between(String text, String start, String end) {
        int a = text.indexOf(start) + start.length();
        return text.substring(a, text.indexOf(end, a)).stripTrailing();
    }
}
