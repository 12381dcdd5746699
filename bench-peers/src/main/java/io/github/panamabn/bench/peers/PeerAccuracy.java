package io.github.panamabn.bench.peers;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.BatchNorm;
import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.verification.DataFamily;
import io.github.panamabn.verification.Oracle;
import io.github.panamabn.verification.TensorCase;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Locale;

/**
 * Accuracy side by side: PyTorch's CPU batch norm (through DJL) and ours on the verification suite's
 * adversarial data, each against the double oracle, per layout. Training forward; PyTorch's batch
 * statistics are read from running statistics updated with momentum 1.
 *
 * <p>Usage: {@code PeerAccuracy outputDir}; writes {@code accuracy.md}.
 */
public final class PeerAccuracy {
    private PeerAccuracy() {
    }

    /** Worst errors over a tensor's channels: mean in sigmas, relative variance, and output. */
    record Errors(double mean, double variance, double output) {
        Errors max(Errors o) {
            return new Errors(Math.max(mean, o.mean), Math.max(variance, o.variance), Math.max(output, o.output));
        }
    }

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        Path out = Path.of(args.length > 0 ? args[0] : "docs");
        Files.createDirectories(out);
        DataFamily[] families = {DataFamily.GAUSSIAN, DataFamily.OFFSET, DataFamily.CONSTANT, DataFamily.SORTED,
            DataFamily.HUGE, DataFamily.TINY};
        StringBuilder b = new StringBuilder();
        b.append("| data | layout | PyTorch: worst output error | ours: worst output error | ours: mean error (sigmas) "
                + "| ours: variance error (relative) |\n|---|---|---|---|---|---|\n");
        try (NDManager manager = NDManager.newBaseManager(Engine.getEngine("PyTorch").defaultDevice(), "PyTorch")) {
            for (DataFamily family : families) {
                for (Layout layout : Layout.values()) {
                    // 100,352 values per channel: large enough for float accumulation to show
                    TensorShape shape = TensorShape.of(layout, 32, 8, 56, 56);
                    float[] x = new TensorCase(shape, family, 7, 0).data();
                    double torch = torch(manager, shape, x);
                    Errors ours = ours(shape, x);
                    b.append(String.format("| %s | %s | %.2g | %.2g | %.2g | %.2g |%n", family,
                            layout == Layout.CHANNELS_FIRST ? "NCHW" : "NHWC", torch, ours.output, ours.mean,
                            ours.variance));
                }
            }
        }
        String text = "Run on " + LocalDate.now() + ": one batch of 32x8x56x56 per row (8 channels of 100,352 "
                + "values each), PyTorch " + Engine.getEngine("PyTorch").getVersion() + " on CPU through DJL against "
                + "the double oracle. Output error in units of the output (gamma 1, beta 0, so outputs are about "
                + "N(0, 1); 1.0 means a wrong answer). Mean error in units of the channel's standard deviation; for "
                + "constant channels (variance 0) errors are absolute. DJL does not hand back PyTorch's batch "
                + "statistics, so PyTorch is judged by its output.\n\n" + b;
        Files.writeString(out.resolve("accuracy.md"), text);
        System.out.println(text);
    }

    static Errors ours(TensorShape shape, float[] x) {
        ChannelStatistics s = new ChannelStatistics(shape.channels());
        float[] y = new float[x.length];
        io.github.panamabn.kernels.BatchNorm.get().forwardTraining(NormConfig.DEFAULT, TensorView.of(shape, x),
                TensorView.of(shape, y), Affine.none(), new SavedStatistics(shape.channels()), s);
        double[] mean = new double[shape.channels()];
        double[] var = new double[shape.channels()];
        for (int c = 0; c < mean.length; c++) {
            mean[c] = s.mean(c);
            var[c] = s.variance(c);
        }
        return errors(shape, x, mean, var, y);
    }

    /** PyTorch's worst output error. */
    static double torch(NDManager manager, TensorShape shape, float[] x) {
        int channels = shape.channels();
        NDArray input = PyTorchBenchmark.tensor(manager, x, shape);
        NDArray runningMean = manager.zeros(new Shape(channels));
        NDArray runningVar = manager.ones(new Shape(channels));
        NDArray gamma = manager.ones(new Shape(channels));
        NDArray beta = manager.zeros(new Shape(channels));
        NDArray y = BatchNorm.batchNorm(input, runningMean, runningVar, gamma, beta, 1, 1f, 1e-5f, true)
                .singletonOrThrow();
        // Back to our memory order: NCHW as is; the channels-last view back to (N, HW, 1, C).
        float[] out = (shape.isChannelInnermost() && shape.spatialRank() > 0 ? y.transpose(0, 2, 3, 1) : y)
                .toFloatArray();
        Oracle.Statistics o = Oracle.statistics(shape, x, 0);
        return errors(shape, x, o.mean(), o.variance(), out).output();
    }

    static Errors errors(TensorShape shape, float[] x, double[] mean, double[] var, float[] y) {
        Oracle.Statistics o = Oracle.statistics(shape, x, 0);
        double[] expected = Oracle.normalize(shape, x, 0, o.mean(), o.variance(), null, null, 1e-5, false);
        Errors worst = new Errors(0, 0, 0);
        for (int c = 0; c < shape.channels(); c++) {
            double sigma = Math.sqrt(o.variance()[c]);
            double dm = Math.abs(mean[c] - o.mean()[c]);
            double dv = Math.abs(var[c] - o.variance()[c]);
            worst = worst.max(new Errors(sigma > 0 ? dm / sigma : dm, o.variance()[c] > 0 ? dv / o.variance()[c] : dv, 0));
        }
        double output = 0;
        for (int i = 0; i < y.length; i++) {
            output = Math.max(output, Math.abs(y[i] - expected[i]));
        }
        return worst.max(new Errors(0, 0, output));
    }
}
