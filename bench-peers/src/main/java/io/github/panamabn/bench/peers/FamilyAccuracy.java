package io.github.panamabn.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.LayerNorm;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.verification.DataFamily;
import io.github.panamabn.verification.FamilyOracle;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Locale;
import java.util.Map;

/**
 * Accuracy of the normalization family side by side: ours, ONNX Runtime's CPU operators
 * (LayerNormalization, RMSNormalization, GroupNormalization, InstanceNormalization; channels-first)
 * and PyTorch's layer norm through DJL (the only one of the family DJL exposes), each against the
 * double oracle ({@link FamilyOracle}), on the verification suite's adversarial data, both layouts
 * where the norm has them. No affine transform (weight 1, bias 0), eps 1e-5.
 *
 * <p>Usage: {@code FamilyAccuracy outputDir}; writes {@code family-accuracy.md}.
 */
public final class FamilyAccuracy {
    private static final float EPS = 1e-5f;

    private FamilyAccuracy() {
    }

    /** One norm on one shape: how it is cut, and how each implementation runs it (null: it has none). */
    private record Case(String name, TensorShape shape, int groups, boolean rms) {
        boolean rows() {
            return groups == 0;
        }

        FamilyOracle.Cut cut() {
            return rows() ? FamilyOracle.Cut.rows((int) shape.batch(), shape.channels())
                    : FamilyOracle.Cut.groups(shape, groups);
        }

        boolean channelsFirst() {
            return rows() || shape.layout() == Layout.CHANNELS_FIRST;
        }
    }

    public static void main(String[] args) throws IOException, OrtException {
        Locale.setDefault(Locale.ROOT);
        Path out = Path.of(args.length > 0 ? args[0] : "docs");
        Files.createDirectories(out);
        // long units, where float accumulation shows: 100,352 features per row; 25,088 values per group
        Case[] cases = {
            new Case("layer norm", TensorShape.nc(8, 100_352), 0, false),
            new Case("RMS norm", TensorShape.nc(8, 100_352), 0, true),
            new Case("group norm (8 groups), NCHW", TensorShape.nchw(4, 64, 56, 56), 8, false),
            new Case("group norm (8 groups), NHWC", TensorShape.nhwc(4, 64, 56, 56), 8, false),
            new Case("instance norm, NCHW", TensorShape.nchw(4, 8, 112, 112), 8, false),
            new Case("instance norm, NHWC", TensorShape.nhwc(4, 8, 112, 112), 8, false),
        };
        DataFamily[] families = {DataFamily.GAUSSIAN, DataFamily.OFFSET, DataFamily.CONSTANT, DataFamily.SORTED,
            DataFamily.OUTLIER, DataFamily.HUGE, DataFamily.TINY};
        StringBuilder b = new StringBuilder("| norm | data | ours | ONNX Runtime | PyTorch |\n|---|---|---|---|---|\n");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (NDManager manager = NDManager.newBaseManager(Engine.getEngine("PyTorch").defaultDevice(), "PyTorch")) {
            for (Case c : cases) {
                for (DataFamily family : families) {
                    int n = Math.toIntExact(c.shape().elementCount());
                    float[] x = new float[n];
                    FamilyOracle.Cut cut = c.cut();
                    FamilyOracle.fill(cut, family, x, 0, 7);
                    double[] xd = new double[n];
                    for (int i = 0; i < n; i++) {
                        xd[i] = x[i];
                    }
                    double[] expected = FamilyOracle.forward(cut, xd, null, null, EPS, c.rms());
                    String ort = c.channelsFirst() ? format(worst(onnx(env, c, x), expected)) : "no channels-last";
                    String torch = c.rows() && !c.rms() ? format(worst(torch(manager, c, x), expected)) : "not in DJL";
                    b.append(String.format("| %s | %s | %s | %s | %s |%n", c.name(), family,
                            format(worst(ours(c, x), expected)), ort, torch));
                }
            }
        }
        String text = "Run on " + LocalDate.now() + ": worst output error against the double oracle, in units of the"
                + " output (weight 1, bias 0, eps 1e-5: outputs are about N(0, 1), so 1.0 is a wrong answer; constant"
                + " units must come out exactly 0). ONNX Runtime " + env.getVersion() + " (CPU, one thread), PyTorch "
                + Engine.getEngine("PyTorch").getVersion() + " through DJL. Layer and RMS norm: 8 rows of 100,352 "
                + "features; group norm: 4x64x56x56, 8 groups (25,088 values each); instance norm: 4x8x112x112 "
                + "(12,544 per channel).\n\n" + b;
        Files.writeString(out.resolve("family-accuracy.md"), text);
        System.out.println(text);
    }

    private static String format(double error) {
        return Double.isNaN(error) ? "NaN" : error == 0 ? "0" : String.format("%.2g", error);
    }

    private static double worst(float[] y, double[] expected) {
        double worst = 0;
        for (int i = 0; i < y.length; i++) {
            double e = Math.abs(y[i] - expected[i]);
            worst = Double.isNaN(e) || Double.isNaN(worst) ? Double.NaN : Math.max(worst, e);
        }
        return worst;
    }

    private static float[] ours(Case c, float[] x) {
        float[] y = new float[x.length];
        TensorView in = TensorView.of(c.shape(), x);
        TensorView out = TensorView.of(c.shape(), y);
        NormConfig config = NormConfig.of(EPS);
        if (c.rows()) {
            if (c.rms()) {
                RmsNorm.get().forward(config, 1, in, out, Affine.none());
            } else {
                io.github.panamabn.kernels.LayerNorm.get().forward(config, 1, in, out, Affine.none());
            }
        } else {
            GroupNorm.get().forward(config, c.groups(), in, out, Affine.none());
        }
        return y;
    }

    private static float[] onnx(OrtEnvironment env, Case c, float[] x) throws OrtException {
        TensorShape s = c.shape();
        long[] shape = c.rows() ? new long[] {s.batch(), s.channels()}
                : new long[] {s.batch(), s.channels(), s.spatialDim(0), s.spatialDim(1)};
        long params = s.channels();
        OnnxModel model;
        if (c.rows()) {
            model = c.rms() ? new OnnxModel("RMSNormalization", 23) : new OnnxModel("LayerNormalization", 17);
            model.attribute("axis", -1L);
        } else if (c.groups() == s.channels()) {
            model = new OnnxModel("InstanceNormalization", 17);
        } else {
            model = new OnnxModel("GroupNormalization", 21);
            model.attribute("num_groups", (long) c.groups());
        }
        model.attribute("epsilon", EPS);
        model.input("x", shape).input("scale", params);
        if (!c.rms()) {
            model.input("bias", params);
        }
        model.output("y", shape);
        float[] ones = new float[(int) params];
        java.util.Arrays.fill(ones, 1f);
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(1);
        try (OrtSession session = env.createSession(model.toBytes(), options);
             OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
             OnnxTensor wt = OnnxTensor.createTensor(env, FloatBuffer.wrap(ones), new long[] {params});
             OnnxTensor bt = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[(int) params]), new long[] {params})) {
            Map<String, OnnxTensor> inputs = c.rms() ? Map.of("x", xt, "scale", wt) : Map.of("x", xt, "scale", wt,
                    "bias", bt);
            try (OrtSession.Result r = session.run(inputs)) {
                FloatBuffer y = ((OnnxTensor) r.get(0)).getFloatBuffer();
                float[] out = new float[x.length];
                y.get(out);
                return out;
            }
        }
    }

    private static float[] torch(NDManager manager, Case c, float[] x) {
        int features = c.shape().channels();
        NDArray in = manager.create(x, new Shape(c.shape().batch(), features));
        NDArray gamma = manager.ones(new Shape(features));
        NDArray beta = manager.zeros(new Shape(features));
        return LayerNorm.layerNorm(in, new Shape(features), gamma, beta, EPS).singletonOrThrow().toFloatArray();
    }
}
