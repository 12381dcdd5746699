package io.github.panamabn.consumer;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.norm.BatchNorm2d;
import io.github.panamabn.nn.Sgd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Uses panama-bn from outside its build: a layer's round trip (train, save, load, serve) and a kernel
 * call on native memory, each checked; prints one line and exits 0 when all agree, else exits 1.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) throws Exception {
        TensorShape shape = TensorShape.nchw(4, 8, 6, 6);
        float[] x = new float[(int) shape.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(i * 0.37) * 3 + 2;
        }
        float[] y = new float[x.length];
        float[] dy = new float[x.length];
        java.util.Arrays.fill(dy, 0.01f);
        float[] dx = new float[x.length];
        Path file = Files.createTempFile("consumer-bn", ".safetensors");

        BatchNorm2d bn = new BatchNorm2d(8);
        Sgd sgd = new Sgd(bn.parameters(), 0.1f);
        for (int step = 0; step < 3; step++) {
            bn.forward(shape, x, y);
            bn.backward(shape, x, y, dy, dx);
            sgd.step();
            sgd.zeroGrad();
        }
        bn.save(file);
        BatchNorm2d served = new BatchNorm2d(8);
        served.load(file);
        served.eval().forward(shape, x, y);
        Files.delete(file);
        float[] expected = new float[x.length];
        bn.eval().forward(shape, x, expected);
        boolean roundTrip = java.util.Arrays.equals(y, expected);

        // The kernels on native memory: a training forward leaves each channel with mean 0.
        BatchNorm kernels = BatchNorm.get();
        ChannelStatistics stats = new ChannelStatistics(8);
        double worstMean = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(shape.elementCount() * Float.BYTES);
            MemorySegment.copy(x, 0, segment, ValueLayout.JAVA_FLOAT, 0, x.length);
            TensorView view = TensorView.of(shape, segment);
            kernels.forwardTraining(NormConfig.DEFAULT, view, view, Affine.none(), new SavedStatistics(8));
            kernels.statistics(view, stats);
        }
        for (int c = 0; c < 8; c++) {
            worstMean = Math.max(worstMean, Math.abs(stats.mean(c)));
        }
        boolean centered = worstMean < 1e-5;
        String where = Main.class.getModule().isNamed() ? "module path" : "class path";
        System.out.println("consumer on the " + where + ": kernels " + kernels.implementation() + ", round trip "
                + (roundTrip ? "identical" : "DIFFERENT") + ", largest channel mean after normalizing " + worstMean);
        if (!roundTrip || !centered) {
            System.exit(1);
        }
    }
}
