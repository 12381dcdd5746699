package io.github.panamabn.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
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
 * The limit the kernels are measured against, in the same run and on buffers of the same sizes: a
 * copy (one read and one write of the tensor), by {@code System.arraycopy} and by a vector loop (the
 * faster of the two is the limit), and a read-only sum (one read).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
public class MemoryBandwidthBenchmark {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

    @Param({"32x64x56x56", "64x64x56x56", "32x256x14x14", "32x2048x7x7", "256x1024", "7x61x13x13", "8x32x14x14"})
    public String shape;

    float[] x;
    float[] y;

    @Setup(Level.Trial)
    public void setUp() {
        Copies.compile();
        int n = Math.toIntExact(KernelBenchmark.parse(shape, "NCHW").elementCount());
        x = new float[n];
        y = new float[n];
        java.util.Arrays.fill(x, 1.25f);
    }

    @Benchmark
    public float[] copy() {
        Copies.arraycopy(x, y);
        return y;
    }

    /** A copy by vector loads and stores: the pace a loop that writes its output can reach ({@link Copies}). */
    @Benchmark
    public float[] vectorCopy() {
        Copies.vectorLoop(x, y);
        return y;
    }

    /** Four accumulators, so the sum runs at the speed of reading memory, not of adding. */
    @Benchmark
    public float sum() {
        FloatVector a0 = FloatVector.zero(SPECIES);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        int l = SPECIES.length();
        int i = 0;
        for (; i + 4 * l <= x.length; i += 4 * l) {
            a0 = a0.add(FloatVector.fromArray(SPECIES, x, i));
            a1 = a1.add(FloatVector.fromArray(SPECIES, x, i + l));
            a2 = a2.add(FloatVector.fromArray(SPECIES, x, i + 2 * l));
            a3 = a3.add(FloatVector.fromArray(SPECIES, x, i + 3 * l));
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < x.length; i++) {
            s += x[i];
        }
        return s;
    }
}
