package io.github.panamabn.bench;

import io.github.panamabn.kernels.Activation;
import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The forward kernels, SCALAR against PANAMA, per layout and shape, with a plain copy of the same
 * bytes as the memory-bandwidth reference. Shapes are {@code NxCxHxW} strings.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch"})
public class KernelBenchmark {
    @Param({"SCALAR", "PANAMA"})
    public Implementation implementation;

    @Param({"NCHW", "NHWC"})
    public String layout;

    @Param({"32x64x56x56", "32x256x14x14", "32x2048x7x7", "256x1024x1x1", "7x61x13x13"})
    public String shape;

    private BatchNorm bn;
    private TensorShape tensor;
    private float[] x;
    private float[] y;
    private float[] gamma;
    private float[] beta;
    private float[] mean;
    private float[] var;
    private float[] saveMean;
    private float[] saveInvStd;
    private ChannelStatistics stats;

    /** Parses {@code NxCxHxW} into a shape of the benchmark's layout. */
    static TensorShape parse(String shape, String layout) {
        String[] d = shape.split("x");
        long[] spatial = new long[d.length - 2];
        for (int i = 0; i < spatial.length; i++) {
            spatial[i] = Long.parseLong(d[i + 2]);
        }
        Layout l = layout.equals("NHWC") ? Layout.CHANNELS_LAST : Layout.CHANNELS_FIRST;
        return TensorShape.of(l, Long.parseLong(d[0]), Integer.parseInt(d[1]), spatial);
    }

    @Setup(Level.Trial)
    public void setUp() {
        bn = BatchNorm.of(implementation);
        tensor = parse(shape, layout);
        int channels = tensor.channels();
        x = new float[Math.toIntExact(tensor.elementCount())];
        y = new float[x.length];
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextDouble() * 4 - 1);
        }
        gamma = new float[channels];
        beta = new float[channels];
        mean = new float[channels];
        var = new float[channels];
        saveMean = new float[channels];
        saveInvStd = new float[channels];
        java.util.Arrays.fill(gamma, 1.5f);
        java.util.Arrays.fill(var, 2f);
        stats = new ChannelStatistics(channels);
        System.out.println("# kernels: " + bn.implementation());
    }

    @Benchmark
    public ChannelStatistics statistics() {
        bn.statistics(tensor, x, 0, stats);
        return stats;
    }

    @Benchmark
    public float[] forwardTraining() {
        bn.forwardTraining(tensor, x, 0, y, 0, gamma, beta, 1e-5f, Activation.IDENTITY, stats, saveMean, saveInvStd);
        return y;
    }

    @Benchmark
    public float[] forwardInference() {
        bn.forwardInference(tensor, x, 0, y, 0, mean, var, gamma, beta, 1e-5f, Activation.IDENTITY);
        return y;
    }

    /** Reads x and writes y once: the memory traffic of inference, at the machine's copy bandwidth. */
    @Benchmark
    public float[] copyReference() {
        System.arraycopy(x, 0, y, 0, x.length);
        return y;
    }
}
