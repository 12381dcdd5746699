package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.Layer;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.norm.FrozenBatchNorm;
import io.github.panamabn.nn.norm.GroupNorm;
import io.github.panamabn.nn.norm.InstanceNorm2d;
import io.github.panamabn.nn.norm.LayerNorm;
import io.github.panamabn.nn.norm.RMSNorm;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The layers, as a service or a training loop calls them, allocate nothing per call once warm: every
 * norm layer's training step (forward, backward with the parameter gradients accumulated) and eval
 * forward, on {@code float[]}s and on views, counted by the JVM's exact per-thread allocation counter.
 */
class LayerAllocationTest {
    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (DataFamily.gaussian(r) * 2 + 1);
        }
        return v;
    }

    @Test
    void normLayersAllocateNothingPerCallOnceWarm() {
        TensorShape image = TensorShape.nchw(4, 32, 12, 12);
        TensorShape tokens = TensorShape.ncl(4, 16, 96);
        int n = (int) image.elementCount();
        int m = (int) tokens.elementCount();
        float[] x = random(n, 1);
        float[] y = new float[n];
        float[] dy = random(n, 2);
        float[] dx = new float[n];
        float[] t = random(m, 3);
        float[] ty = new float[m];
        float[] tdy = random(m, 4);
        float[] tdx = new float[m];
        float[] stream = random(m, 5);
        float[] h = new float[m];
        TensorView xv = TensorView.of(image, x);
        TensorView yv = TensorView.of(image, y);
        TensorView tv = TensorView.of(tokens, t);
        TensorView tyv = TensorView.of(tokens, ty);
        TensorView streamView = TensorView.of(tokens, stream);
        TensorView hv = TensorView.of(tokens, h);

        BatchNorm2d bn = new BatchNorm2d(32);
        BatchNorm2d bnEval = new BatchNorm2d(32);
        bnEval.setTraining(false);
        FrozenBatchNorm frozen = bnEval.freeze();
        GroupNorm gn = new GroupNorm(8, 32);
        InstanceNorm2d in = new InstanceNorm2d(32, 1e-5f, 0.1f, true, true);
        LayerNorm ln = new LayerNorm(96);
        RMSNorm rms = new RMSNorm(96);

        Map<String, Runnable> calls = new LinkedHashMap<>();
        calls.put("BatchNorm2d training step", () -> step(bn, image, x, y, dy, dx));
        calls.put("BatchNorm2d eval forward", () -> bnEval.forward(image, x, y));
        calls.put("BatchNorm2d eval forward on views", () -> bnEval.forward(xv, yv));
        calls.put("FrozenBatchNorm forward", () -> frozen.forward(image, x, y));
        calls.put("GroupNorm training step", () -> step(gn, image, x, y, dy, dx));
        calls.put("GroupNorm forward on views", () -> gn.forward(xv, yv));
        calls.put("InstanceNorm2d training step (running statistics)", () -> step(in, image, x, y, dy, dx));
        calls.put("LayerNorm training step", () -> step(ln, tokens, t, ty, tdy, tdx));
        calls.put("LayerNorm fused residual forward", () -> ln.forwardResidual(tv, streamView, hv, tyv));
        calls.put("RMSNorm training step", () -> step(rms, tokens, t, ty, tdy, tdx));
        calls.put("RMSNorm forward on views", () -> rms.forward(tv, tyv));

        for (int i = 0; i < 300; i++) {
            calls.values().forEach(Runnable::run);
        }
        List<String> allocating = AllocationCheck.allocating(calls);
        assertTrue(allocating.isEmpty(), "layers allocating per call once warm: " + allocating);
    }

    /** A training step's layer calls: forward, then backward with the input gradient. */
    private static void step(Layer layer, TensorShape shape, float[] x, float[] y, float[] dy, float[] dx) {
        layer.setTraining(true);
        layer.forward(shape, x, y);
        layer.backward(shape, x, y, dy, dx);
    }
}
