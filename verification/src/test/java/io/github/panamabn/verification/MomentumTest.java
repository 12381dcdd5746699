package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.norm.BatchNorm1d;
import io.github.panamabn.nn.norm.BatchNormOptions;
import io.github.panamabn.nn.norm.Momentum;
import org.junit.jupiter.api.Test;

/** The momentum conventions users bring convert exactly, and a layer built from one updates as its framework. */
class MomentumTest {
    @Test
    void conventionsConvertInDecimal() {
        assertEquals(0.1f, Momentum.fromPyTorch(0.1f));
        assertEquals(0.01f, Momentum.fromKeras(0.99f));
        assertEquals(0.1f, Momentum.fromOnnx(0.9f));
        assertEquals(0.1f, Momentum.fromDjl(0.9f));
        assertEquals(0.9f, Momentum.toOldValueWeight(0.1f));
        assertEquals(0.01f, BatchNormOptions.fromKeras(0.99f, 1e-3f).momentum());
    }

    @Test
    void valuesOutsideZeroToOneAreRefusedNamingTheConvention() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Momentum.fromOnnx(1.5f));
        assertTrue(e.getMessage().startsWith("ONNX momentum must be in [0, 1]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Momentum.fromDjl(Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> Momentum.fromPyTorch(-0.1f));
    }

    @Test
    void aLayerWithOnnxsMomentumUpdatesAsOnnxDoes() {
        float onnx = 0.9f;
        BatchNorm1d bn = new BatchNorm1d(1, BatchNormOptions.defaults().withMomentum(Momentum.fromOnnx(onnx)));
        bn.forward(TensorShape.nc(4, 1), new float[] {1, 2, 3, 6}, new float[4]);
        // ONNX: running_mean = running_mean * momentum + mean * (1 - momentum), from 0
        assertEquals(0 * onnx + 3 * (1 - 0.9), bn.runningMean()[0], 1e-6);
    }
}
