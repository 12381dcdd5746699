package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.GroupNorm;
import io.github.panamabn.nn.norm.InstanceNorm2d;
import io.github.panamabn.nn.norm.LayerNorm;
import io.github.panamabn.nn.norm.NormLayer;
import io.github.panamabn.nn.norm.RMSNorm;
import io.github.panamabn.nn.safetensors.SafeTensors.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The norm layers: PyTorch's defaults, state_dict keys and shapes, gradients, errors that name the layer;
 * and what they share as {@link NormLayer}s (batch norm among them).
 */
class NormLayersTest {
    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (DataFamily.gaussian(r) * 2 + 3);
        }
        return v;
    }

    @Test
    void defaultsAndStateKeysArePyTorchs() {
        LayerNorm ln = new LayerNorm(4, 8);
        assertEquals(1e-5f, ln.eps());
        assertEquals(List.of("weight", "bias"), List.copyOf(ln.stateDict("").keySet()));
        assertArrayEquals(new long[] {4, 8}, ln.stateDict("").get("weight").shape());
        assertEquals(List.of("weight"), List.copyOf(new LayerNorm(new long[] {8}, 1e-5f, true, false).stateDict("").keySet()));
        assertTrue(new LayerNorm(new long[] {8}, 1e-5f, false, true).stateDict("").isEmpty());
        RMSNorm rms = new RMSNorm(16);
        assertEquals((float) Math.scalb(1.0, -23), rms.eps(), "eps None is float32's machine epsilon");
        assertEquals(List.of("weight"), List.copyOf(rms.stateDict("").keySet()));
        assertEquals(1e-6f, RMSNorm.keras(16).eps());
        GroupNorm gn = new GroupNorm(4, 12);
        assertEquals(List.of("g.weight", "g.bias"), List.copyOf(gn.stateDict("g.").keySet()));
        assertEquals(1e-3f, GroupNorm.keras(4, 12).eps());
        assertEquals(1e-3f, LayerNorm.keras(12).eps());
        InstanceNorm2d in = new InstanceNorm2d(3);
        assertTrue(in.stateDict("").isEmpty(), "affine=False, track_running_stats=False: no state");
        assertEquals(List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
                List.copyOf(new InstanceNorm2d(3, 1e-5f, 0.1f, true, true).stateDict("").keySet()));
        assertThrows(IllegalArgumentException.class, () -> new GroupNorm(5, 12));
    }

    /** One of each layer, with weight, bias and (batch and instance norm) running statistics. */
    private static List<NormLayer> oneOfEach() {
        return List.of(new BatchNorm2d(6), new InstanceNorm2d(6, 1e-5f, 0.1f, true, true), new GroupNorm(3, 6),
                new LayerNorm(4, 5), new RMSNorm(4, 5));
    }

    @Test
    void everyNormLayerSharesNamesModesAndStateFiles(@TempDir Path dir) throws Exception {
        TensorShape shape = TensorShape.nchw(2, 6, 4, 5);
        int n = (int) shape.elementCount();
        for (NormLayer layer : oneOfEach()) {
            String kind = layer.getClass().getSimpleName();
            assertTrue(layer.toString().startsWith(kind + "("), layer.toString());
            layer.setName("block.0.norm");
            assertTrue(layer.toString().startsWith("block.0.norm: " + kind + "("), layer.toString());
            assertTrue(layer.isTraining());
            assertEquals(layer, layer.eval());
            assertTrue(!layer.isTraining());
            layer.train();
            assertTrue(layer.isTraining());
            // a training step changes the state; the file written holds it and loads into a fresh layer
            layer.forward(shape, random(n, 7), new float[n]);
            for (int i = 0; i < layer.weight().length; i++) {
                layer.weight()[i] = 1 + 0.01f * i;
            }
            Path file = dir.resolve(kind + ".safetensors");
            layer.save(file);
            NormLayer fresh = oneOfEach().stream().filter(l -> l.getClass() == layer.getClass()).findFirst()
                    .orElseThrow();
            fresh.load(file);
            assertEquals(layer.stateDict(""), fresh.stateDict(""), kind);
            assertTrue(layer.stateDict("").containsKey("weight"), kind);
            if (layer.runningVar() != null) {
                assertEquals(1, fresh.numBatchesTracked(), kind);
                // a negative variance is refused, naming the layer and the element, and nothing is loaded
                Map<String, Tensor> bad = new java.util.HashMap<>(layer.stateDict(""));
                float[] var = layer.runningVar().clone();
                var[4] = -1f;
                bad.put("running_var", Tensor.ofFloats(var, var.length));
                bad.put("weight", Tensor.ofFloats(new float[6], 6));
                float[] before = fresh.weight().clone();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> fresh.loadStateDict(bad, ""));
                assertTrue(e.getMessage().startsWith(fresh + ": running_var[4] must be a non-negative variance"),
                        e.getMessage());
                assertArrayEquals(before, fresh.weight(), kind + ": nothing loaded");
                fresh.resetRunningStats();
                assertEquals(0, fresh.numBatchesTracked());
                assertArrayEquals(new float[6], fresh.runningMean());
            } else {
                assertNull(layer.runningMean(), kind);
                assertEquals(0, layer.numBatchesTracked(), kind);
            }
        }
    }

    @Test
    void layerNormLayerIsTheKernelAndAccumulatesGradients() {
        TensorShape shape = TensorShape.ncl(3, 5, 40);
        float[] x = random(600, 1);
        float[] dy = random(600, 2);
        LayerNorm layer = new LayerNorm(40);
        for (int i = 0; i < 40; i++) {
            layer.weight()[i] = 1 + i / 40f;
            layer.bias()[i] = -i / 80f;
        }
        float[] y = new float[600];
        layer.forward(shape, x, y);
        float[] expected = new float[600];
        io.github.panamabn.kernels.LayerNorm.get().forward(NormConfig.DEFAULT, 1, TensorView.of(shape, x),
                TensorView.of(shape, expected), Affine.of(layer.weight(), layer.bias()));
        assertArrayEquals(expected, y);
        float[] dx = new float[600];
        layer.backward(shape, x, y, dy, dx);
        float[] once = layer.weightGrad().clone();
        layer.backward(shape, x, y, dy, null);
        for (int i = 0; i < 40; i++) {
            assertEquals(2 * once[i], layer.weightGrad()[i], Math.ulp(once[i]) * 4, "gradients accumulate");
        }
        layer.zeroGrad();
        assertEquals(0f, layer.weightGrad()[3]);
    }

    /** A pre-norm block's residual add fused into the layer: h and y as the add then forward, backward on h. */
    @Test
    void residualAddFusesIntoLayerNormAndRmsNorm() {
        TensorShape shape = TensorShape.ncl(2, 7, 96);
        float[] x = random(1344, 3);
        float[] stream = random(1344, 4);
        float[] h = new float[1344];
        for (int i = 0; i < h.length; i++) {
            h[i] = x[i] + stream[i];
        }
        for (NormLayer layer : new NormLayer[] {new LayerNorm(96), new RMSNorm(96)}) {
            float[] expected = new float[1344];
            layer.forward(shape, h, expected);
            float[] dy = random(1344, 5);
            float[] dxExpected = new float[1344];
            layer.backward(shape, h, expected, dy, dxExpected);
            float[] r = stream.clone();
            float[] y = new float[1344];
            TensorView rv = TensorView.of(shape, r);
            // in place, as a decoder's residual stream updates itself
            if (layer instanceof LayerNorm ln) {
                ln.forwardResidual(TensorView.of(shape, x), rv, rv, TensorView.of(shape, y));
            } else {
                ((RMSNorm) layer).forwardResidual(TensorView.of(shape, x), rv, rv, TensorView.of(shape, y));
            }
            assertArrayEquals(h, r, layer + ": h");
            assertArrayEquals(expected, y, layer + ": y");
            float[] dx = new float[1344];
            layer.backward(shape, r, y, dy, dx);
            assertArrayEquals(dxExpected, dx, layer + ": backward on h after the fused forward");
        }
    }

    @Test
    void instanceNormTracksRunningStatisticsAsPyTorchDoes() {
        TensorShape shape = TensorShape.nchw(4, 3, 5, 6);
        float[] x = random(360, 3);
        InstanceNorm2d layer = new InstanceNorm2d(3, 1e-5f, 0.1f, false, true);
        float[] y = new float[360];
        layer.forward(shape, x, y);
        FamilyOracle.Cut cut = FamilyOracle.Cut.groups(shape, 3);
        Oracle.Statistics o = FamilyOracle.statistics(cut, x, 0);
        for (int c = 0; c < 3; c++) {
            double mean = 0;
            double var = 0;
            for (int n = 0; n < 4; n++) {
                mean += o.mean()[n * 3 + c] / 4;
                var += o.m2()[n * 3 + c] / 29 / 4;
            }
            assertEquals(0.1 * mean, layer.runningMean()[c], 1e-6);
            assertEquals(0.9 + 0.1 * var, layer.runningVar()[c], 1e-6);
        }
        FamilyTolerance.assertNormalized(cut, x, 0, y, o, null, null, 1e-5, 1, "instance norm training");
        // eval with tracking normalizes with the running statistics, as batch norm inference
        layer.setTraining(false);
        float[] served = new float[360];
        layer.forward(shape, x, served);
        for (int n = 0; n < 4; n++) {
            for (int c = 0; c < 3; c++) {
                for (int s = 0; s < 30; s++) {
                    int i = (int) shape.index(n, c, s);
                    double want = (x[i] - layer.runningMean()[c]) / Math.sqrt(layer.runningVar()[c] + 1e-5);
                    assertEquals(want, served[i], 1e-5 * Math.max(1, Math.abs(want)));
                }
            }
        }
        float[] dx = new float[360];
        layer.backward(shape, x, served, random(360, 4), dx);
        // without tracking, eval is the same as training
        InstanceNorm2d plain = new InstanceNorm2d(3);
        plain.setTraining(false);
        float[] y2 = new float[360];
        plain.forward(shape, x, y2);
        assertArrayEquals(y, y2);
        assertNull(plain.runningMean());
    }

    @Test
    void errorsNameTheLayerAndChangeNothing(@TempDir Path dir) throws Exception {
        GroupNorm gn = new GroupNorm(2, 6);
        gn.setName("unet.down.1.norm");
        float[] x = random(6 * 16, 5);
        float[] y = new float[x.length];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gn.forward(TensorShape.nchw(2, 4, 3, 4), x, y));
        assertTrue(e.getMessage().startsWith("unet.down.1.norm: GroupNorm(2, 6"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> gn.forward(TensorShape.nchw(1, 6, 4, 4), x,
                new float[95]));
        assertTrue(e.getMessage().contains("unet.down.1.norm") && e.getMessage().contains("length 95"), e.getMessage());
        LayerNorm ln = new LayerNorm(8);
        e = assertThrows(IllegalArgumentException.class, () -> ln.forward(TensorShape.ncl(2, 6, 7),
                new float[84], new float[84]));
        assertTrue(e.getMessage().contains("does not end in the normalized shape [8]"), e.getMessage());
        // a refused state leaves the layer as it was
        ln.weight()[0] = 5f;
        Map<String, Tensor> bad = new java.util.HashMap<>(ln.stateDict(""));
        bad.put("bias", Tensor.ofFloats(new float[7], 7));
        assertThrows(IllegalArgumentException.class, () -> ln.loadStateDict(bad, ""));
        assertEquals(5f, ln.weight()[0]);
        InstanceNorm2d in = new InstanceNorm2d(2, 1e-5f, 0.1f, false, true);
        Map<String, Tensor> negative = new java.util.HashMap<>(in.stateDict(""));
        negative.put("running_var", Tensor.ofFloats(new float[] {1, -1}, 2));
        e = assertThrows(IllegalArgumentException.class, () -> in.loadStateDict(negative, ""));
        assertTrue(e.getMessage().contains("running_var[1]"), e.getMessage());
        assertEquals(1f, in.runningVar()[1]);
        // a refused forward of another batch size keeps the last forward's statistics for its backward
        for (NormLayer layer : new NormLayer[] {new LayerNorm(8), new RMSNorm(8), new GroupNorm(2, 8),
            new InstanceNorm2d(8, 1e-5f, 0.1f, false, true)}) {
            TensorShape shape = layer instanceof LayerNorm || layer instanceof RMSNorm ? TensorShape.ncl(2, 3, 8)
                    : TensorShape.nchw(2, 8, 2, 3);
            TensorShape other = layer instanceof LayerNorm || layer instanceof RMSNorm ? TensorShape.ncl(4, 3, 8)
                    : TensorShape.nchw(4, 8, 2, 3);
            int n = (int) shape.elementCount();
            float[] input = random(n, 9);
            float[] grad = random(n, 10);
            float[] out = new float[n];
            layer.forward(shape, input, out);
            float[] expected = new float[n];
            layer.backward(shape, input, out, grad, expected);
            layer.zeroGrad();
            TensorShape wrong = layer instanceof LayerNorm || layer instanceof RMSNorm ? TensorShape.ncl(4, 8, 3)
                    : TensorShape.nchw(4, 8, 3, 2);
            assertThrows(IllegalArgumentException.class, () -> layer.forward(TensorView.of(other, new float[2 * n]),
                    TensorView.of(wrong, new float[2 * n])), layer.toString());
            float[] dx = new float[n];
            layer.backward(shape, input, out, grad, dx);
            assertArrayEquals(expected, dx, layer + ": backward after a refused forward");
        }
        // a safetensors round trip
        Path file = dir.resolve("ln.safetensors");
        ln.save(file);
        LayerNorm back = new LayerNorm(8);
        back.load(file);
        assertArrayEquals(ln.weight(), back.weight());
        assertTrue(Files.size(file) > 64);
    }

    @Test
    void layersTakeViewsOfNativeMemory() {
        TensorShape shape = TensorShape.nhwc(2, 4, 4, 8);
        float[] x = random(256, 6);
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var xs = arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_FLOAT, x);
            var ys = arena.allocate(256L * 4);
            for (NormLayer layer : new NormLayer[] {new GroupNorm(4, 8), new LayerNorm(new long[] {8}, 1e-5f, true, true)}) {
                TensorShape s = layer instanceof LayerNorm ? TensorShape.nc(32, 8) : shape;
                layer.forward(TensorView.of(s, xs), TensorView.of(s, ys));
                float[] y = new float[256];
                layer.forward(s, x, y);
                assertArrayEquals(y, ys.toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT), layer.toString());
            }
        }
    }
}
