package io.github.panamabn.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.verification.Oracle;
import io.github.panamabn.verification.Tolerance;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each benchmark's setup, run once: SCALAR and PANAMA agree, so no benchmark times wrong code. */
class BenchmarkAgreementTest {

    static Stream<Arguments> configurations() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (String shape : KernelBenchmark.SHAPES) {
            for (String layout : new String[] {"NCHW", "NHWC"}) {
                for (String storage : new String[] {"ARRAY", "NATIVE"}) {
                    b.add(Arguments.of(shape, layout, storage));
                }
            }
        }
        return b.build();
    }

    static KernelBenchmark state(Implementation impl, String shape, String layout, String storage, int threads) {
        KernelBenchmark k = new KernelBenchmark();
        k.implementation = impl;
        k.shape = shape;
        k.layout = layout;
        k.storage = storage;
        k.threads = threads;
        k.setUp();
        return k;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("configurations")
    void scalarAndPanamaAgree(String shape, String layout, String storage) {
        KernelBenchmark s = state(Implementation.SCALAR, shape, layout, storage, 1);
        KernelBenchmark p = state(Implementation.PANAMA, shape, layout, storage, 1);
        KernelBenchmark p2 = state(Implementation.PANAMA, shape, layout, storage, 2);
        try {
            Oracle.Statistics o = Oracle.statistics(s.tensor, s.x, 0);
            Tolerance.assertStatistics(o, s.statistics(), "SCALAR statistics");
            Tolerance.assertStatistics(o, p.statistics(), "PANAMA statistics");

            s.forwardTraining();
            p.forwardTraining();
            assertClose(s.output(), p.output(), 1e-5, "forwardTraining");
            s.forwardInference();
            p.forwardInference();
            assertClose(s.output(), p.output(), 1e-5, "forwardInference");
            s.backward();
            p.backward();
            assertClose(s.inputGradient(), p.inputGradient(), 1e-4, "backward dx");
            assertClose(s.dgamma, p.dgamma, 1e-4, "backward dgamma");
            assertClose(s.dbeta, p.dbeta, 1e-4, "backward dbeta");

            // Two threads time the same work: the same bits.
            p2.forwardTraining();
            p.forwardTraining();
            assertArrayEquals(p.output(), p2.output(), "forwardTraining on 2 threads");
            p2.backward();
            assertArrayEquals(p.inputGradient(), p2.inputGradient(), "backward on 2 threads");
        } finally {
            s.tearDown();
            p.tearDown();
            p2.tearDown();
        }
    }

    /** Elementwise agreement relative to the largest magnitude (uniform, well-conditioned data). */
    static void assertClose(float[] a, float[] b, double relative, String what) {
        assertEquals(a.length, b.length, what);
        double scale = 0;
        for (float v : a) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < a.length; i++) {
            if (!(Math.abs(a[i] - b[i]) <= relative * (scale + Math.abs(a[i])))) {
                throw new AssertionError(what + "[" + i + "]: SCALAR " + a[i] + ", PANAMA " + b[i]);
            }
        }
    }
}
