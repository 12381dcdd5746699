package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.TensorShape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Per-channel statistics of both implementations against the double oracle. */
class StatisticsPropertyTest {
    private static final int MAX_ELEMENTS = 60_000;

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void statisticsMatchOracleOnEveryFamilyAndShape(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        int tried = Property.forAll("statistics-" + impl, 400, TensorCase.generator(MAX_ELEMENTS, DataFamily.values()),
                tc -> {
                    float[] x = tc.data();
                    ChannelStatistics s = new ChannelStatistics(tc.shape().channels());
                    Calls.statistics(bn, tc.shape(), x, tc.offset(), s);
                    Tolerance.assertStatistics(Oracle.statistics(tc.shape(), x, tc.offset()), s, impl.name());
                });
        assertTrue(tried > 400);
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void nativeSegmentGivesTheSameBitsAsTheArray(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("segment-" + impl, 60, TensorCase.generator(MAX_ELEMENTS, DataFamily.GAUSSIAN, DataFamily.OFFSET),
                tc -> {
                    float[] x = tc.data();
                    ChannelStatistics fromArray = new ChannelStatistics(tc.shape().channels());
                    ChannelStatistics fromSegment = new ChannelStatistics(tc.shape().channels());
                    Calls.statistics(bn, tc.shape(), x, tc.offset(), fromArray);
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment seg = arena.allocate(tc.shape().elementCount() * Float.BYTES);
                        MemorySegment.copy(x, tc.offset(), seg, ValueLayout.JAVA_FLOAT, 0, (int) tc.shape().elementCount());
                        Calls.statistics(bn, tc.shape(), seg, fromSegment);
                    }
                    assertArrayEquals(means(fromArray), means(fromSegment));
                    assertArrayEquals(m2s(fromArray), m2s(fromSegment));
                });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void channelsFirstAndChannelsLastOfTheSameDataAgree(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("layouts-" + impl, 150, TensorCase.generator(MAX_ELEMENTS, DataFamily.values()), tc -> {
            TensorShape first = tc.shape().withLayout(Layout.CHANNELS_FIRST);
            TensorShape last = tc.shape().withLayout(Layout.CHANNELS_LAST);
            float[] x = tc.withShape(first).data();
            float[] transposed = new float[x.length];
            for (long n = 0; n < first.batch(); n++) {
                for (int c = 0; c < first.channels(); c++) {
                    for (long s = 0; s < first.spatialSize(); s++) {
                        transposed[tc.offset() + (int) last.index(n, c, s)] = x[tc.offset() + (int) first.index(n, c, s)];
                    }
                }
            }
            Oracle.Statistics o = Oracle.statistics(first, x, tc.offset());
            Oracle.Statistics oLast = Oracle.statistics(last, transposed, tc.offset());
            assertArrayEquals(o.mean(), oLast.mean(), "the oracle itself is layout-blind");
            ChannelStatistics a = new ChannelStatistics(first.channels());
            ChannelStatistics b = new ChannelStatistics(first.channels());
            Calls.statistics(bn, first, x, tc.offset(), a);
            Calls.statistics(bn, last, transposed, tc.offset(), b);
            Tolerance.assertStatistics(o, a, "channels-first");
            Tolerance.assertStatistics(o, b, "channels-last");
            for (int c = 0; c < first.channels(); c++) {
                assertTrue(Math.abs(a.mean(c) - b.mean(c)) <= 2 * Tolerance.mean(o, c), "mean of channel " + c);
                assertTrue(Math.abs(a.variance(c) - b.variance(c)) <= 2 * Tolerance.variance(o, c), "var of channel " + c);
            }
        });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void mergingStatisticsOfSplitBatchesEqualsTheWhole(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("merge-" + impl, 150, TensorCase.generator(MAX_ELEMENTS, DataFamily.values()), tc -> {
            TensorShape shape = tc.shape();
            if (shape.batch() < 2) {
                return;
            }
            float[] x = tc.data();
            long firstBatch = shape.batch() / 2 + (tc.seed() & 1) * (shape.batch() - 1) / 2 / 2;
            long[] spatial = new long[shape.spatialRank()];
            for (int i = 0; i < spatial.length; i++) {
                spatial[i] = shape.spatialDim(i);
            }
            TensorShape head = TensorShape.of(shape.layout(), firstBatch, shape.channels(), spatial);
            TensorShape tail = TensorShape.of(shape.layout(), shape.batch() - firstBatch, shape.channels(), spatial);
            ChannelStatistics whole = new ChannelStatistics(shape.channels());
            ChannelStatistics merged = new ChannelStatistics(shape.channels());
            ChannelStatistics second = new ChannelStatistics(shape.channels());
            Calls.statistics(bn, shape, x, tc.offset(), whole);
            Calls.statistics(bn, head, x, tc.offset(), merged);
            Calls.statistics(bn, tail, x, tc.offset() + (int) head.elementCount(), second);
            merged.merge(second);
            Oracle.Statistics o = Oracle.statistics(shape, x, tc.offset());
            Tolerance.assertStatistics(o, merged, "merged");
            Tolerance.assertStatistics(o, whole, "whole");
            assertEquals(whole.count(), merged.count());
        });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void constantChannelsHaveExactlyZeroVariance(Implementation impl) {
        BatchNorm bn = Implementations.kernels(impl);
        Property.forAll("constant-" + impl, 100, TensorCase.generator(MAX_ELEMENTS, DataFamily.CONSTANT), tc -> {
            float[] x = tc.data();
            ChannelStatistics s = new ChannelStatistics(tc.shape().channels());
            Calls.statistics(bn, tc.shape(), x, tc.offset(), s);
            for (int c = 0; c < s.channels(); c++) {
                assertEquals(0.0, s.m2(c), "M2 of channel " + c);
                assertEquals(x[tc.offset() + (int) tc.shape().index(0, c, 0)], s.mean(c), "mean of channel " + c);
            }
        });
    }

    private static double[] means(ChannelStatistics s) {
        double[] d = new double[s.channels()];
        for (int c = 0; c < d.length; c++) {
            d[c] = s.mean(c);
        }
        return d;
    }

    private static double[] m2s(ChannelStatistics s) {
        double[] d = new double[s.channels()];
        for (int c = 0; c < d.length; c++) {
            d[c] = s.m2(c);
        }
        return d;
    }
}
