package io.github.panamabn.bench.peers;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ONNX Runtime's CPU inference of one normalization node, the rows of {@code FamilyBenchmark} it has
 * an operator for: LayerNormalization (opset 17) and RMSNormalization (opset 23) over the last axis,
 * GroupNormalization (opset 21, channels-first only) and InstanceNormalization, in a model the bench
 * writes ({@link OnnxModel}). At its best: all graph optimizations, direct buffers for the inputs and a
 * pinned output tensor, so a run allocates and copies nothing on the Java side; its own arena allocator
 * keeps freed memory. Weight 1.5 and bias 0 as ours.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xms1g",
    "-Xmx1g"})
public class OnnxRuntimeFamilyBenchmark {
    @Param({"layer:512x4096", "layer:1x4096", "rms:512x4096", "rms:1x4096", "group32:NCHW:2x320x64x64",
            "instance:NCHW:8x64x128x128"})
    public String kernel;

    /** ONNX Runtime's intra-op threads. */
    @Param({"1"})
    public int threads;

    private OrtEnvironment env;
    private OrtSession session;
    private Map<String, OnnxTensor> inputs;
    private Map<String, OnnxTensor> outputs;

    @Setup(Level.Trial)
    public void setUp() throws OrtException {
        String[] p = kernel.split(":");
        long[] shape;
        OnnxModel model;
        long params;
        if (p[0].equals("layer") || p[0].equals("rms")) {
            String[] d = p[1].split("x");
            shape = new long[] {Long.parseLong(d[0]), Long.parseLong(d[1])};
            params = shape[1];
            model = p[0].equals("layer") ? new OnnxModel("LayerNormalization", 17) : new OnnxModel("RMSNormalization", 23);
            model.attribute("axis", -1L);
        } else {
            if (!p[1].equals("NCHW")) {
                throw new IllegalArgumentException("ONNX's norms are channels-first: " + kernel);
            }
            String[] d = p[2].split("x");
            shape = new long[d.length];
            for (int i = 0; i < d.length; i++) {
                shape[i] = Long.parseLong(d[i]);
            }
            params = shape[1];
            if (p[0].equals("instance")) {
                model = new OnnxModel("InstanceNormalization", 17);
            } else {
                model = new OnnxModel("GroupNormalization", 21);
                model.attribute("num_groups", Long.parseLong(p[0].substring("group".length())));
            }
        }
        model.attribute("epsilon", 1e-5f);
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        boolean bias = !p[0].equals("rms");
        model.input("x", shape).input("scale", params);
        if (bias) {
            model.input("bias", params);
        }
        model.output("y", shape);
        env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        options.setIntraOpNumThreads(threads);
        options.setInterOpNumThreads(1);
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        session = env.createSession(model.toBytes(), options);
        SplittableRandom r = new SplittableRandom(1);
        FloatBuffer x = direct(n);
        for (long i = 0; i < n; i++) {
            x.put((float) (r.nextGaussian() * 2 + 1));
        }
        FloatBuffer w = direct(params);
        for (long i = 0; i < params; i++) {
            w.put(1.5f);
        }
        x.rewind();
        w.rewind();
        OnnxTensor xt = OnnxTensor.createTensor(env, x, shape);
        OnnxTensor wt = OnnxTensor.createTensor(env, w, new long[] {params});
        inputs = bias ? Map.of("x", xt, "scale", wt, "bias", OnnxTensor.createTensor(env, direct(params),
                new long[] {params})) : Map.of("x", xt, "scale", wt);
        FloatBuffer y = direct(n);
        outputs = Map.of("y", OnnxTensor.createTensor(env, y, shape));
        forward();
        checkAgainstOurs(p[0], shape, x, y, params);
        System.out.println("# " + kernel + ": ONNX Runtime " + env.getVersion() + ", intra-op threads " + threads);
    }

    /** The bench measures the operator it says: ONNX Runtime's y is ours within float rounding. */
    private static void checkAgainstOurs(String kind, long[] shape, FloatBuffer x, FloatBuffer y, long params) {
        int n = x.capacity();
        float[] xs = new float[n];
        x.get(0, xs);
        float[] want = new float[n];
        float[] w = new float[(int) params];
        java.util.Arrays.fill(w, 1.5f);
        NormConfig config = NormConfig.DEFAULT;
        TensorShape t = shape.length == 2 ? TensorShape.nc(shape[0], (int) shape[1])
                : TensorShape.nchw(shape[0], (int) shape[1], shape[2], shape[3]);
        TensorView in = TensorView.of(t, xs);
        TensorView out = TensorView.of(t, want);
        switch (kind) {
            case "layer" -> LayerNorm.get().forward(config, 1, in, out, Affine.of(w, new float[w.length]));
            case "rms" -> RmsNorm.get().forward(config, 1, in, out, Affine.weightOnly(w));
            case "instance" -> GroupNorm.get().forward(config, t.channels(), in, out, Affine.of(w, new float[w.length]));
            default -> GroupNorm.get().forward(config, Integer.parseInt(kind.substring("group".length())), in, out,
                    Affine.of(w, new float[w.length]));
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            worst = Math.max(worst, Math.abs(y.get(i) - want[i]));
        }
        if (!(worst < 1e-3)) {
            throw new IllegalStateException(kind + ": ONNX Runtime's output differs from ours by " + worst);
        }
        System.out.println("# ONNX Runtime's " + kind + " output is ours within " + worst);
    }

    private static FloatBuffer direct(long n) {
        return ByteBuffer.allocateDirect(Math.toIntExact(n * Float.BYTES)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws OrtException {
        session.close();
        inputs.values().forEach(OnnxTensor::close);
        outputs.values().forEach(OnnxTensor::close);
    }

    @Benchmark
    public Object forward() throws OrtException {
        try (OrtSession.Result result = session.run(inputs, outputs)) {
            return result;
        }
    }
}
