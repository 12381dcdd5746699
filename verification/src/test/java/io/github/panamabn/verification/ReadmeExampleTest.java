package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.TensorShape;
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
    void readmeShowsThisExample() throws IOException {
        String source = Files.readString(Path.of("src/test/java/io/github/panamabn/verification/ReadmeExampleTest.java"));
        String code = between(source, "// example:start\n", "        // example:end");
        String expected = code.lines().map(l -> l.length() >= 8 ? l.substring(8) : l.strip())
                .collect(Collectors.joining("\n"));
        String readme = Files.readString(Path.of("../README.md"));
        assertTrue(readme.contains(expected), "README.md must contain the example exactly as in this test:\n" + expected);
    }

    private static String between(String text, String start, String end) {
        int a = text.indexOf(start) + start.length();
        return text.substring(a, text.indexOf(end, a)).stripTrailing();
    }
}
