package io.github.panamabn.verification;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.panamabn.kernels.Affine;
import io.github.panamabn.kernels.ChannelStatistics;
import io.github.panamabn.kernels.GroupNorm;
import io.github.panamabn.kernels.Implementation;
import io.github.panamabn.kernels.LayerNorm;
import io.github.panamabn.kernels.Layout;
import io.github.panamabn.kernels.NormConfig;
import io.github.panamabn.kernels.RmsNorm;
import io.github.panamabn.kernels.SavedStatistics;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Layer, RMS, group and instance norm of both implementations against {@link FamilyOracle}, on the
 * data families and shapes of the batch-norm suites (extents that straddle every lane count, both
 * layouts, offsets into the array): statistics, forward, backward, and the oracle's own backward
 * against finite differences of its forward.
 */
class FamilyPropertyTest {
    private static final int MAX_ELEMENTS = 30_000;
    private static final float[] EPSILONS = {1e-5f, 1e-3f, 0.1f};

    /** A case of one norm: the tensor, how it is cut, and the options drawn from its seed. */
    private record Setup(TensorCase tc, int dims, int groups, float[] weight, float[] bias, float eps) {
        static Setup layer(TensorCase tc, boolean withBias) {
            SplittableRandom r = new SplittableRandom(tc.seed() ^ 0x5DEECE66DL);
            TensorShape shape = tc.shape();
            int rank = shape.spatialRank() + 2;
            int dims = 1 + r.nextInt(rank);
            int features = (int) LayerNorm.features(shape, dims);
            int kind = r.nextInt(4);
            float[] w = kind == 0 ? null : values(r, features);
            float[] b = kind >= 2 && withBias ? values(r, features) : null;
            return new Setup(tc, dims, 0, w, b, EPSILONS[r.nextInt(EPSILONS.length)]);
        }

        static Setup group(TensorCase tc, boolean instance) {
            SplittableRandom r = new SplittableRandom(tc.seed() ^ 0x9E3779B97F4A7C15L);
            int c = tc.shape().channels();
            int groups = c;
            if (!instance) {
                do {
                    groups = 1 + r.nextInt(c);
                } while (c % groups != 0);
            }
            int kind = r.nextInt(4);
            float[] w = kind == 0 || kind == 3 ? null : values(r, c);
            float[] b = kind >= 2 ? values(r, c) : null;
            return new Setup(tc, 0, groups, w, b, EPSILONS[r.nextInt(EPSILONS.length)]);
        }

        private static float[] values(SplittableRandom r, int n) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) r.nextDouble(-2, 2);
            }
            return v;
        }

        FamilyOracle.Cut cut() {
            TensorShape shape = tc.shape();
            if (groups > 0) {
                return FamilyOracle.Cut.groups(shape, groups);
            }
            long features = LayerNorm.features(shape, dims);
            return FamilyOracle.Cut.rows((int) (shape.elementCount() / features), (int) features);
        }

        /** The case's data, drawn per unit. */
        float[] data() {
            float[] x = new float[tc.offset() + (int) tc.shape().elementCount()];
            FamilyOracle.fill(cut(), tc.family(), x, tc.offset(), tc.seed());
            return x;
        }

        Affine affine() {
            return weight == null ? (bias == null ? Affine.none() : Affine.biasOnly(bias))
                    : bias == null ? Affine.weightOnly(weight) : Affine.of(weight, bias);
        }

        /** 2 where channels-last groups merge their channels' moments, else 1. */
        double statisticsFactor() {
            return groups > 0 && tc.shape().layout() == Layout.CHANNELS_LAST && tc.shape().spatialSize() > 1 ? 2 : 1;
        }
    }

    /** Channels-first shapes for layer and RMS norm (their rows are contiguous trailing dimensions). */
    private static Gen<TensorCase> channelsFirst() {
        Gen<TensorCase> any = TensorCase.generator(MAX_ELEMENTS, DataFamily.values());
        return new Gen<>() {
            @Override
            public TensorCase next(SplittableRandom r) {
                return first(any.next(r));
            }

            @Override
            public java.util.List<TensorCase> edgeCases() {
                return any.edgeCases().stream().map(FamilyPropertyTest::first).distinct().toList();
            }

            @Override
            public java.util.List<TensorCase> shrink(TensorCase value) {
                return any.shrink(value).stream().map(FamilyPropertyTest::first).toList();
            }
        };
    }

    private static TensorCase first(TensorCase tc) {
        return tc.withShape(tc.shape().withLayout(Layout.CHANNELS_FIRST));
    }

    private static Gen<TensorCase> anyLayout() {
        return TensorCase.generator(MAX_ELEMENTS, DataFamily.values());
    }

    private static float[] gradient(TensorCase tc, int length) {
        SplittableRandom r = new SplittableRandom(tc.seed() * 31 + 7);
        float[] dy = new float[length];
        for (int i = 0; i < length; i++) {
            dy[i] = (float) DataFamily.gaussian(r);
        }
        return dy;
    }

    private static float[] tensor(float[] x, int offset, int count) {
        return java.util.Arrays.copyOfRange(x, offset, offset + count);
    }

    // ---------------------------------------------------------------- layer norm

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void layerNormForwardMatchesOracle(Implementation impl) {
        LayerNorm ln = LayerNorm.of(impl);
        Property.forAll("layer-forward-" + impl, 200, channelsFirst(), tc -> {
            Setup s = Setup.layer(tc, true);
            FamilyOracle.Cut cut = s.cut();
            float[] x = s.data();
            float[] y = new float[x.length];
            TensorView xv = TensorView.of(tc.shape(), x, tc.offset());
            SavedStatistics save = new SavedStatistics(cut.units());
            ln.forward(NormConfig.of(s.eps), s.dims, xv, TensorView.of(tc.shape(), y, tc.offset()), s.affine(), save);
            Oracle.Statistics o = FamilyOracle.statistics(cut, x, tc.offset());
            ChannelStatistics stats = new ChannelStatistics(cut.units());
            ln.statistics(s.dims, xv, stats);
            Tolerance.assertStatistics(o, stats, "layer statistics");
            for (int u = 0; u < cut.units(); u++) {
                assertEquals((float) stats.mean(u), save.mean()[u], "save.mean[" + u + "]");
                assertEquals((float) (1 / Math.sqrt(stats.variance(u) + s.eps)), save.invStd()[u], "save.invStd[" + u + "]");
            }
            FamilyTolerance.assertNormalized(cut, x, tc.offset(), y, o, s.weight, s.bias, s.eps, 1, "layer");
        });
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void layerNormBackwardMatchesOracle(Implementation impl) {
        LayerNorm ln = LayerNorm.of(impl);
        Property.forAll("layer-backward-" + impl, 150, channelsFirst(), tc -> {
            Setup s = Setup.layer(tc, true);
            FamilyOracle.Cut cut = s.cut();
            int count = (int) tc.shape().elementCount();
            float[] x = tensor(s.data(), tc.offset(), count);
            float[] dy = gradient(tc, count);
            TensorShape shape = tc.shape();
            SavedStatistics save = new SavedStatistics(cut.units());
            ln.forward(NormConfig.of(s.eps), s.dims, TensorView.of(shape, x), TensorView.of(shape, new float[count]),
                    s.affine(), save);
            float[] dx = new float[count];
            float[] dw = new float[cut.parameters()];
            float[] db = new float[cut.parameters()];
            ln.backward(NormConfig.of(s.eps), s.dims, save, TensorView.of(shape, x), TensorView.of(shape, dy),
                    TensorView.of(shape, dx), s.weight == null ? Affine.none() : Affine.weightOnly(s.weight),
                    Affine.of(dw, db));
            Oracle.Gradients o = FamilyOracle.backward(cut, x, dy, s.weight, Oracle.toDouble(save.mean()),
                    Oracle.toDouble(save.invStd()), false);
            FamilyTolerance.assertGradients(cut, x, dy, s.weight, save.mean(), save.invStd(), false, o, dx, dw, db,
                    "layer");
            // the parameter gradients alone are the same bits
            float[] dw2 = new float[dw.length];
            float[] db2 = new float[db.length];
            ln.parameterGradients(NormConfig.of(s.eps), s.dims, save, TensorView.of(shape, x), TensorView.of(shape, dy),
                    Affine.of(dw2, db2));
            assertArrayEquals(dw, dw2);
            assertArrayEquals(db, db2);
        });
    }

    // ---------------------------------------------------------------- RMS norm

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void rmsNormForwardAndBackwardMatchOracle(Implementation impl) {
        RmsNorm rms = RmsNorm.of(impl);
        Property.forAll("rms-" + impl, 200, channelsFirst(), tc -> {
            Setup s = Setup.layer(tc, false);
            FamilyOracle.Cut cut = s.cut();
            TensorShape shape = tc.shape();
            int count = (int) shape.elementCount();
            float[] x = s.data();
            float[] y = new float[x.length];
            SavedStatistics save = new SavedStatistics(cut.units());
            Affine affine = s.weight == null ? Affine.none() : Affine.weightOnly(s.weight);
            rms.forward(NormConfig.of(s.eps), s.dims, TensorView.of(shape, x, tc.offset()),
                    TensorView.of(shape, y, tc.offset()), affine, save);
            double[] ms = FamilyOracle.meanSquares(cut, x, tc.offset());
            FamilyTolerance.assertRms(cut, x, tc.offset(), y, ms, s.weight, s.eps, "rms");
            float[] xs = tensor(x, tc.offset(), count);
            float[] dy = gradient(tc, count);
            float[] dx = new float[count];
            float[] dw = new float[cut.parameters()];
            rms.backward(NormConfig.of(s.eps), s.dims, save, TensorView.of(shape, xs), TensorView.of(shape, dy),
                    TensorView.of(shape, dx), affine, Affine.weightOnly(dw));
            Oracle.Gradients o = FamilyOracle.backward(cut, xs, dy, s.weight, new double[cut.units()],
                    Oracle.toDouble(save.invStd()), true);
            FamilyTolerance.assertGradients(cut, xs, dy, s.weight, save.mean(), save.invStd(), true, o, dx, dw, null,
                    "rms");
        });
    }

    // ---------------------------------------------------------------- fused residual add

    /**
     * {@code h = x + residual; y = norm(h)} fused: h is the float sum exactly, y and the saved statistics
     * are the bits of the unfused forward on h (itself held to the oracle here too), whichever operands
     * share memory (h in x or in residual, y in x or in residual), at offsets.
     */
    @ParameterizedTest
    @EnumSource(Implementation.class)
    void fusedResidualAddIsTheNormOfTheSum(Implementation impl) {
        LayerNorm ln = LayerNorm.of(impl);
        RmsNorm rms = RmsNorm.of(impl);
        Property.forAll("residual-" + impl, 200, channelsFirst(), tc -> {
            boolean isRms = (tc.seed() & 1) == 0;
            Setup s = Setup.layer(tc, !isRms);
            FamilyOracle.Cut cut = s.cut();
            TensorShape shape = tc.shape();
            int off = tc.offset();
            int count = (int) shape.elementCount();
            float[] x = s.data();
            float[] r = new float[x.length];
            float[] g = gradient(tc, count);
            for (int i = 0; i < count; i++) {
                r[off + i] = g[i] * (float) Math.scalb(1.0, (int) (tc.seed() >>> 3 & 7) - 3);
            }
            float[] sum = new float[x.length];
            for (int i = off; i < off + count; i++) {
                sum[i] = x[i] + r[i];
            }
            // the unfused forward on the sum: the reference bits
            float[] want = new float[x.length];
            SavedStatistics wantSave = new SavedStatistics(cut.units());
            NormConfig config = NormConfig.of(s.eps);
            Affine affine = s.affine();
            TensorView sumView = TensorView.of(shape, sum, off);
            if (isRms) {
                rms.forward(config, s.dims, sumView, TensorView.of(shape, want, off), affine, wantSave);
                FamilyTolerance.assertRms(cut, sum, off, want, FamilyOracle.meanSquares(cut, sum, off), s.weight,
                        s.eps, "residual rms");
            } else {
                ln.forward(config, s.dims, sumView, TensorView.of(shape, want, off), affine, wantSave);
                FamilyTolerance.assertNormalized(cut, sum, off, want, FamilyOracle.statistics(cut, sum, off),
                        s.weight, s.bias, s.eps, 1, "residual layer");
            }
            // where h and y go: 0 separate, 1 h in x, 2 h in residual, 3 y in x, 4 y in residual and h in x
            int aliasing = (int) Math.floorMod(tc.seed() >>> 7, 5L);
            float[] xs = x.clone();
            float[] rs = r.clone();
            float[] h = aliasing == 1 || aliasing == 4 ? xs : aliasing == 2 ? rs : new float[x.length];
            float[] y = aliasing == 3 ? xs : aliasing == 4 ? rs : new float[x.length];
            SavedStatistics save = new SavedStatistics(cut.units());
            TensorView xv = TensorView.of(shape, xs, off);
            TensorView rv = TensorView.of(shape, rs, off);
            TensorView hv = TensorView.of(shape, h, off);
            TensorView yv = TensorView.of(shape, y, off);
            if (isRms) {
                rms.forwardResidual(config, s.dims, xv, rv, hv, yv, affine, save);
            } else {
                ln.forwardResidual(config, s.dims, xv, rv, hv, yv, affine, save);
            }
            String what = (isRms ? "rms" : "layer") + " aliasing " + aliasing + ": ";
            assertArrayEquals(java.util.Arrays.copyOfRange(sum, off, off + count),
                    java.util.Arrays.copyOfRange(h, off, off + count), what + "h");
            assertArrayEquals(java.util.Arrays.copyOfRange(want, off, off + count),
                    java.util.Arrays.copyOfRange(y, off, off + count), what + "y");
            assertArrayEquals(wantSave.mean(), save.mean(), what + "save.mean");
            assertArrayEquals(wantSave.invStd(), save.invStd(), what + "save.invStd");
        });
    }

    // ---------------------------------------------------------------- group and instance norm

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void groupNormMatchesOracle(Implementation impl) {
        groupProperty(impl, false);
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void instanceNormMatchesOracle(Implementation impl) {
        groupProperty(impl, true);
    }

    private static void groupProperty(Implementation impl, boolean instance) {
        GroupNorm gn = GroupNorm.of(impl);
        Property.forAll((instance ? "instance-" : "group-") + impl, 200, anyLayout(), tc -> {
            Setup s = Setup.group(tc, instance);
            FamilyOracle.Cut cut = s.cut();
            TensorShape shape = tc.shape();
            int count = (int) shape.elementCount();
            float[] x = s.data();
            float[] y = new float[x.length];
            SavedStatistics save = new SavedStatistics(cut.units());
            TensorView xv = TensorView.of(shape, x, tc.offset());
            gn.forward(NormConfig.of(s.eps), s.groups, xv, TensorView.of(shape, y, tc.offset()), s.affine(), save);
            Oracle.Statistics o = FamilyOracle.statistics(cut, x, tc.offset());
            ChannelStatistics stats = new ChannelStatistics(cut.units());
            gn.statistics(s.groups, xv, stats);
            assertEquals(cut.length(), stats.count());
            for (int u = 0; u < cut.units(); u++) {
                double dm = Math.abs(stats.mean(u) - o.mean()[u]);
                double dv = Math.abs(stats.variance(u) - o.variance()[u]);
                double f = s.statisticsFactor();
                if (!(dm <= f * Tolerance.mean(o, u)) || !(dv <= f * Tolerance.variance(o, u))) {
                    throw new AssertionError("group statistics of unit " + u + ": mean " + stats.mean(u) + " (oracle "
                            + o.mean()[u] + "), variance " + stats.variance(u) + " (oracle " + o.variance()[u] + ")");
                }
            }
            FamilyTolerance.assertNormalized(cut, x, tc.offset(), y, o, s.weight, s.bias, s.eps, s.statisticsFactor(),
                    "group");
            float[] xs = tensor(x, tc.offset(), count);
            float[] dy = gradient(tc, count);
            float[] dx = new float[count];
            float[] dw = new float[shape.channels()];
            float[] db = new float[shape.channels()];
            gn.backward(NormConfig.of(s.eps), s.groups, save, TensorView.of(shape, xs), TensorView.of(shape, dy),
                    TensorView.of(shape, dx), s.weight == null ? Affine.none() : Affine.weightOnly(s.weight),
                    Affine.of(dw, db));
            Oracle.Gradients g = FamilyOracle.backward(cut, xs, dy, s.weight, Oracle.toDouble(save.mean()),
                    Oracle.toDouble(save.invStd()), false);
            FamilyTolerance.assertGradients(cut, xs, dy, s.weight, save.mean(), save.invStd(), false, g, dx, dw, db,
                    "group");
        });
    }

    /** The same logical tensor in both layouts gives the same statistics and (within rounding) the same output. */
    @ParameterizedTest
    @EnumSource(Implementation.class)
    void groupNormLayoutsAgree(Implementation impl) {
        GroupNorm gn = GroupNorm.of(impl);
        for (TensorShape first : new TensorShape[] {TensorShape.nchw(3, 32, 7, 9), TensorShape.ncdhw(2, 6, 3, 5, 17),
                TensorShape.ncl(4, 20, 33)}) {
            TensorShape last = first.withLayout(Layout.CHANNELS_LAST);
            for (int groups : new int[] {1, 2, first.channels()}) {
                FamilyOracle.Cut cut = FamilyOracle.Cut.groups(first, groups);
                float[] xf = new float[(int) first.elementCount()];
                FamilyOracle.fill(cut, DataFamily.OFFSET, xf, 0, 42 + groups);
                float[] xl = new float[xf.length];
                for (long n = 0; n < first.batch(); n++) {
                    for (int c = 0; c < first.channels(); c++) {
                        for (long sp = 0; sp < first.spatialSize(); sp++) {
                            xl[(int) last.index(n, c, sp)] = xf[(int) first.index(n, c, sp)];
                        }
                    }
                }
                float[] yf = new float[xf.length];
                float[] yl = new float[xf.length];
                SavedStatistics sf = new SavedStatistics(cut.units());
                SavedStatistics sl = new SavedStatistics(cut.units());
                gn.forward(NormConfig.DEFAULT, groups, TensorView.of(first, xf), TensorView.of(first, yf), Affine.none(),
                        sf);
                gn.forward(NormConfig.DEFAULT, groups, TensorView.of(last, xl), TensorView.of(last, yl), Affine.none(),
                        sl);
                for (int u = 0; u < cut.units(); u++) {
                    assertEquals(sf.mean()[u], sl.mean()[u], Math.ulp(sf.mean()[u]) * 2, "mean of unit " + u);
                    assertEquals(sf.invStd()[u], sl.invStd()[u], sf.invStd()[u] * 1e-5, "invStd of unit " + u);
                }
                for (long n = 0; n < first.batch(); n++) {
                    for (int c = 0; c < first.channels(); c++) {
                        for (long sp = 0; sp < first.spatialSize(); sp++) {
                            float a = yf[(int) first.index(n, c, sp)];
                            float b = yl[(int) last.index(n, c, sp)];
                            assertEquals(a, b, 1e-4 * Math.max(1, Math.abs(a)), first + " groups " + groups);
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- the oracle itself

    /** The oracle's backward is the derivative of its forward: central differences in double. */
    @Test
    void oracleBackwardMatchesFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(5);
        TensorShape shape = TensorShape.nchw(2, 6, 3, 5);
        FamilyOracle.Cut[] cuts = {FamilyOracle.Cut.rows(12, 15), FamilyOracle.Cut.groups(shape, 3),
                FamilyOracle.Cut.groups(shape.withLayout(Layout.CHANNELS_LAST), 2)};
        for (FamilyOracle.Cut cut : cuts) {
            for (boolean rms : new boolean[] {false, true}) {
                if (rms && cut.parameters() != 15) {
                    continue;
                }
                int count = (int) (cut.units() * cut.length());
                float[] x = new float[count];
                float[] dy = new float[count];
                float[] w = new float[cut.parameters()];
                float[] b = new float[cut.parameters()];
                for (int i = 0; i < count; i++) {
                    x[i] = (float) (DataFamily.gaussian(r) * 2 + 1);
                    dy[i] = (float) DataFamily.gaussian(r);
                }
                for (int p = 0; p < w.length; p++) {
                    w[p] = (float) r.nextDouble(0.5, 2);
                    b[p] = (float) r.nextDouble(-1, 1);
                }
                double eps = 1e-3;
                double[] xd = Oracle.toDouble(x);
                double[] mean = new double[cut.units()];
                double[] invStd = new double[cut.units()];
                Oracle.Statistics st = FamilyOracle.statistics(cut, x, 0);
                double[] ms = FamilyOracle.meanSquares(cut, x, 0);
                for (int u = 0; u < cut.units(); u++) {
                    mean[u] = rms ? 0 : st.mean()[u];
                    invStd[u] = 1 / Math.sqrt((rms ? ms[u] : st.variance()[u]) + eps);
                }
                Oracle.Gradients g = FamilyOracle.backward(cut, x, dy, w, mean, invStd, rms);
                double h = 1e-5;
                for (int i = 0; i < count; i += 7) {
                    double[] plus = xd.clone();
                    double[] minus = xd.clone();
                    plus[i] += h;
                    minus[i] -= h;
                    double lp = dot(dy, FamilyOracle.forward(cut, plus, w, rms ? null : b, eps, rms));
                    double lm = dot(dy, FamilyOracle.forward(cut, minus, w, rms ? null : b, eps, rms));
                    double fd = (lp - lm) / (2 * h);
                    assertEquals(fd, g.dx()[i], 1e-6 * Math.max(1, Math.abs(fd)), cut + " rms=" + rms + " dx[" + i + "]");
                }
            }
        }
    }

    private static double dot(float[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    // ---------------------------------------------------------------- the bounds can fail

    /**
     * What the Java engines do (one-pass float sum and sum of squares, {@code E[x^2] - E[x]^2}) fails the
     * bounds on offset data; so does an output one part in 10^5 off.
     */
    @Test
    void boundsRejectTheOnePassFloatFormulaAndSmallErrors() {
        TensorShape shape = TensorShape.nc(8, 256);
        FamilyOracle.Cut cut = FamilyOracle.Cut.rows(8, 256);
        float[] x = new float[2048];
        FamilyOracle.fill(cut, DataFamily.OFFSET, x, 0, 3);
        Oracle.Statistics o = FamilyOracle.statistics(cut, x, 0);
        float[] naive = new float[x.length];
        for (int u = 0; u < 8; u++) {
            float sum = 0;
            float squares = 0;
            for (int k = 0; k < 256; k++) {
                sum += x[u * 256 + k];
                squares += x[u * 256 + k] * x[u * 256 + k];
            }
            float mean = sum / 256;
            float var = Math.max(0, squares / 256 - mean * mean);
            for (int k = 0; k < 256; k++) {
                naive[u * 256 + k] = (float) ((x[u * 256 + k] - mean) / Math.sqrt(var + 1e-5f));
            }
        }
        assertThrows(AssertionError.class,
                () -> FamilyTolerance.assertNormalized(cut, x, 0, naive, o, null, null, 1e-5, 1, "naive"));
        float[] y = new float[x.length];
        LayerNorm.of(Implementation.PANAMA).forward(NormConfig.DEFAULT, 1, TensorView.of(shape, x), TensorView.of(shape, y),
                Affine.none());
        FamilyTolerance.assertNormalized(cut, x, 0, y, o, null, null, 1e-5, 1, "kernel");
        y[777] *= 1 + 1e-5f;
        assertThrows(AssertionError.class,
                () -> FamilyTolerance.assertNormalized(cut, x, 0, y, o, null, null, 1e-5, 1, "perturbed"));
        float[] r = new float[x.length];
        RmsNorm.of(Implementation.PANAMA).forward(NormConfig.DEFAULT, 1, TensorView.of(shape, x), TensorView.of(shape, r),
                Affine.none());
        double[] ms = FamilyOracle.meanSquares(cut, x, 0);
        FamilyTolerance.assertRms(cut, x, 0, r, ms, null, 1e-5, "rms kernel");
        r[5] *= 1 + 1e-5f;
        assertThrows(AssertionError.class, () -> FamilyTolerance.assertRms(cut, x, 0, r, ms, null, 1e-5, "rms perturbed"));
    }
}
