package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RunningStatistics;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.FrozenBatchNorm;
import io.github.panamabn.nn.Sgd;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
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
        TensorView in = TensorView.of(shape, x);                   // a float[], or a MemorySegment (heap or native)
        TensorView out = TensorView.of(shape, new float[x.length]);
        float[] weight = new float[16];
        java.util.Arrays.fill(weight, 1f);
        Affine affine = Affine.of(weight, new float[16]);          // gamma and beta; Affine.none() for affine=False

        BatchNorm bn = BatchNorm.get();                            // PANAMA when jdk.incubator.vector is present
        NormConfig config = NormConfig.of(1e-5f).withActivation(Activation.RELU);
        SavedStatistics saved = new SavedStatistics(16);           // mean and 1/sqrt(var + eps), for backward
        ChannelStatistics stats = new ChannelStatistics(16);       // count, mean and M2, in double
        bn.forwardTraining(config, in, out, affine, saved, stats);

        // Later, in inference: normalize with fixed statistics, in place.
        float[] runningVar = new float[16];
        for (int c = 0; c < 16; c++) {
            runningVar[c] = (float) stats.unbiasedVariance(c);
        }
        bn.forwardInference(NormConfig.DEFAULT, RunningStatistics.of(saved.mean(), runningVar), in, in, affine);
        // example:end
        return out.array();
    }

    static BatchNorm2d layerExample(Path file) throws IOException {
        TensorShape shape = TensorShape.nhwc(8, 28, 28, 16);       // channels-last works the same
        float[] x = new float[(int) shape.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.cos(i) * 2 + 1;
        }
        float[] y = new float[x.length];
        float[] dy = new float[x.length];
        java.util.Arrays.fill(dy, 0.01f);
        float[] dx = new float[x.length];
        // layer-example:start
        BatchNorm2d bn = new BatchNorm2d(16);                      // eps 1e-5, momentum 0.1, affine, running stats
        Sgd sgd = new Sgd(bn.parameters(), 0.1f);
        for (int step = 0; step < 3; step++) {
            bn.forward(shape, x, y);                               // batch statistics; running ones updated
            bn.backward(shape, x, y, dy, dx);                      // dx; weight and bias gradients accumulated
            sgd.step();
            sgd.zeroGrad();
        }
        bn.save(file);                                             // safetensors, PyTorch's state_dict names
        BatchNorm2d served = new BatchNorm2d(16);
        served.load(file);
        served.eval().forward(shape, x, y);                        // running statistics; thread-safe
        // layer-example:end
        return served;
    }

    static float[] offHeapExample(BatchNorm2d served, TensorShape shape, List<float[]> requests) {
        // off-heap-example:start
        FrozenBatchNorm frozen = served.freeze();                  // a read-only copy for serving threads
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(shape.elementCount() * Float.BYTES);
            TensorView view = TensorView.of(shape, buffer);        // one view per buffer, made once
            for (float[] request : requests) {
                MemorySegment.copy(request, 0, buffer, ValueLayout.JAVA_FLOAT, 0, request.length);
                frozen.forward(view, view);                        // in place; allocates nothing
            }
            return buffer.toArray(ValueLayout.JAVA_FLOAT);
        }
        // off-heap-example:end
    }

    static float[][] threadsExample() {
        // threads-example:start
        TensorShape shape = TensorShape.nchw(8, 64, 28, 28);
        float[] x = new float[(int) shape.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i) * 3 + 5;
        }
        TensorView in = TensorView.of(shape, x);
        TensorView out1 = TensorView.of(shape, new float[x.length]);
        TensorView out2 = TensorView.of(shape, new float[x.length]);

        BatchNorm one = BatchNorm.get();                           // the calling thread
        BatchNorm two = BatchNorm.get().withThreads(2);            // the calling thread and a shared worker
        one.forwardTraining(NormConfig.DEFAULT, in, out1, Affine.none());
        two.forwardTraining(NormConfig.DEFAULT, in, out2, Affine.none());
        // out1 and out2 are the same bits: the work is cut by the shape, never by the thread count

        BatchNorm2d layer = new BatchNorm2d(64);
        layer.setKernels(two);                                     // a layer on two threads
        // threads-example:end
        return new float[][] {out1.array(), out2.array()};
    }

    @Test
    void threadsExampleGivesTheSameBits() {
        float[][] y = threadsExample();
        assertTrue(java.util.Arrays.equals(y[0], y[1]));
    }

    @Test
    void layerExampleRunsSavesAndServes(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        Path file = dir.resolve("bn.safetensors");
        BatchNorm2d served = layerExample(file);
        assertEquals(3, served.numBatchesTracked());
        assertFalse(served.isTraining());
        BatchNorm2d loaded = new BatchNorm2d(16);
        loaded.load(file);
        assertEquals(served.runningMean()[3], loaded.runningMean()[3]);
        assertTrue(served.weight()[0] != 1f, "three SGD steps moved the weight");

        TensorShape shape = TensorShape.nhwc(2, 28, 28, 16);
        float[] request = new TensorCase(shape, DataFamily.GAUSSIAN, 3, 0).data();
        float[] expected = new float[request.length];
        served.forward(shape, request, expected);
        assertArrayEquals(expected, offHeapExample(served, shape, List.of(new float[request.length], request)));
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
    void familyExampleRuns() {
        TensorShape tokens = TensorShape.ncl(2, 16, 64);
        int n = (int) tokens.elementCount();
        float[] xs = new float[n];
        for (int i = 0; i < n; i++) {
            xs[i] = (float) Math.sin(i) * 3 + 5;
        }
        TensorView x = TensorView.of(tokens, xs);
        TensorView y = TensorView.of(tokens, new float[n]);
        TensorView dy = TensorView.of(tokens, new float[n]);
        TensorView dx = TensorView.of(tokens, new float[n]);
        float[] gamma = new float[64];
        java.util.Arrays.fill(gamma, 1f);
        float[] beta = new float[64];
        float[] dGamma = new float[64];
        float[] dBeta = new float[64];
        TensorShape imageShape = TensorShape.nhwc(2, 8, 8, 64);
        TensorView image = TensorView.of(imageShape, new float[(int) imageShape.elementCount()]);
        TensorView out = TensorView.of(imageShape, new float[(int) imageShape.elementCount()]);
        float[] w = gamma;
        float[] b = beta;
        float[] streamData = new float[n];
        java.util.Arrays.fill(streamData, 0.5f);
        TensorView stream = TensorView.of(tokens, streamData);
        // family-example:start
        SavedStatistics save = new SavedStatistics((int) LayerNorm.rows(tokens, 1));   // one per token
        LayerNorm.get().forward(NormConfig.DEFAULT, 1, x, y, Affine.of(gamma, beta), save);
        LayerNorm.get().backward(NormConfig.DEFAULT, 1, save, x, dy, dx, Affine.weightOnly(gamma), Affine.of(dGamma, dBeta));
        GroupNorm.get().forward(NormConfig.DEFAULT, 32, image, out, Affine.of(w, b));   // 32 groups, NCHW or NHWC
        GroupNorm.get().forward(NormConfig.DEFAULT, 64, image, out, Affine.none());     // instance norm: groups = C
        RmsNorm.get().forward(NormConfig.DEFAULT, 1, x, y, Affine.weightOnly(gamma));   // an LLM's RMSNorm
        RmsNorm.get().forwardResidual(NormConfig.DEFAULT, 1, x, stream, stream, y, Affine.weightOnly(gamma));
        // family-example:end
        double squares = 0;
        for (int i = 0; i < 64; i++) {
            squares += y.array()[i] * (double) y.array()[i] / 64;
            assertEquals(xs[i] + 0.5f, stream.array()[i], "the residual stream holds x + residual");
        }
        assertEquals(1.0, squares, 1e-4, "an RMS-normalized row of the sum has mean square 1");
        float[] layerRow = new float[64];
        LayerNorm.get().forward(NormConfig.DEFAULT, 1, TensorView.of(TensorShape.nc(1, 64), xs, 0),
                TensorView.of(TensorShape.nc(1, 64), layerRow), Affine.none());
        double mean = 0;
        for (float v : layerRow) {
            mean += v / 64.0;
        }
        assertEquals(0.0, mean, 1e-5, "a layer-normalized row has mean 0");
    }

    @Test
    void readmeShowsTheseExamples() throws IOException {
        String source = Files.readString(Path.of("src/test/java/io/github/panamabn/verification/ReadmeExampleTest.java"));
        String readme = Files.readString(Path.of("../README.md"));
        for (String name : new String[] {"example", "layer-example", "off-heap-example", "threads-example",
                "family-example"}) {
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
