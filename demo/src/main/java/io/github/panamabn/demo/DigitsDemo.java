package io.github.panamabn.demo;

import io.github.panamabn.kernels.BatchNorm;
import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.nn.Sequential;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The main job. After the batch-norm paper's MNIST study: the same seeded 3x100 sigmoid MLP trained
 * on the UCI digits with and without batch norm, at a base and a high learning rate, over several
 * initialization seeds; then the batch-norm model served in eval mode, folded into its Linear layers.
 * Prints progress and a summary, and writes a Markdown report and a PNG chart into the output folder
 * (first argument, default {@code demo/target/digits}; the build passes {@code -Ddemo.output}).
 */
public final class DigitsDemo {
    static final int EPOCHS = 40;
    static final int BATCH = 60;
    static final int WIDTH = 100;
    static final float MOMENTUM = 0.9f;
    static final float BASE_LR = 0.2f;
    static final float HIGH_LR = 2.0f;
    static final long[] SEEDS = {1, 2, 3};
    static final double TARGET = 0.95;
    static final int TEST_COUNT = 360;
    static final long SPLIT_SEED = 2026;

    private DigitsDemo() {
    }

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        Path outDir = Path.of(args.length > 0 ? args[0] : "demo/target/digits");
        Files.createDirectories(outDir);
        String machine = machine();
        System.out.println("panama-bn digits demo on " + machine);
        Digits[] split = Digits.load().split(TEST_COUNT, SPLIT_SEED);
        Digits train = split[0];
        Digits test = split[1];
        System.out.printf("data: %d train and %d test images of 8x8, 10 classes (split seed %d)%n",
                train.size(), test.size(), SPLIT_SEED);
        System.out.printf("network: 64 -> 3 x %d sigmoid -> 10, SGD momentum %.1f, batch %d, %d epochs, seeds %s%n%n",
                WIDTH, MOMENTUM, BATCH, EPOCHS, java.util.Arrays.toString(SEEDS));

        List<List<Training.Result>> groups = new ArrayList<>();
        for (boolean bn : new boolean[] {false, true}) {
            for (float lr : new float[] {BASE_LR, HIGH_LR}) {
                List<Training.Result> group = new ArrayList<>();
                for (long seed : SEEDS) {
                    Training.Config config = new Training.Config(bn ? Mlp.Norm.BATCH : Mlp.Norm.NONE, lr, seed, EPOCHS, BATCH, MOMENTUM, WIDTH);
                    System.out.println("training " + config.label() + ", seed " + seed);
                    group.add(Training.run(config, train, test, TARGET, System.out::println));
                }
                groups.add(group);
            }
        }

        String table = summaryTable(groups);
        System.out.println();
        System.out.println(table);

        Training.Result served = groups.get(2).get(0); // BN, base learning rate, seed 1
        String serving = serve(served.model(), test);
        System.out.println(serving);

        Path chart = outDir.resolve("digits-training.png");
        List<LineChart.Series> series = new ArrayList<>();
        Color[] colors = {new Color(200, 60, 40), new Color(240, 150, 40), new Color(30, 90, 200), new Color(40, 160, 90)};
        for (int g = 0; g < groups.size(); g++) {
            Training.Config c = groups.get(g).get(0).config();
            series.add(new LineChart.Series(c.label() + " (mean of " + SEEDS.length + " seeds)", colors[g],
                    c.learningRate() == HIGH_LR, meanCurve(groups.get(g)), extremeCurve(groups.get(g), false),
                    extremeCurve(groups.get(g), true)));
        }
        LineChart.write(chart, "UCI digits: test accuracy per epoch, with and without batch norm", "epoch",
                "test accuracy", 0.0, 1.0, series);

        Path report = outDir.resolve("digits-results.md");
        Files.writeString(report, "Run on " + LocalDate.now() + ", " + machine + ".\n\n" + table + "\n" + serving
                + "\n![test accuracy per epoch](digits-training.png)\n");
        System.out.println("wrote " + report + " and " + chart);
    }

    static double[] meanCurve(List<Training.Result> group) {
        double[] mean = new double[EPOCHS];
        for (Training.Result r : group) {
            for (int e = 0; e < EPOCHS; e++) {
                mean[e] += r.testAccuracy()[e] / group.size();
            }
        }
        return mean;
    }

    /** Per epoch the lowest (or highest) test accuracy of the group's seeds. */
    static double[] extremeCurve(List<Training.Result> group, boolean highest) {
        double[] v = new double[EPOCHS];
        java.util.Arrays.fill(v, highest ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY);
        for (Training.Result r : group) {
            for (int e = 0; e < EPOCHS; e++) {
                v[e] = highest ? Math.max(v[e], r.testAccuracy()[e]) : Math.min(v[e], r.testAccuracy()[e]);
            }
        }
        return v;
    }

    static String summaryTable(List<List<Training.Result>> groups) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("| run | final test accuracy, mean ± sd over %d seeds | min–max | steps to %.0f%% (per seed) | accuracy after 5 epochs |%n",
                SEEDS.length, 100 * TARGET));
        b.append("|---|---|---|---|---|\n");
        for (List<Training.Result> group : groups) {
            double mean = 0;
            double min = 1;
            double max = 0;
            double early = 0;
            StringBuilder steps = new StringBuilder();
            for (Training.Result r : group) {
                mean += r.finalAccuracy() / group.size();
                min = Math.min(min, r.finalAccuracy());
                max = Math.max(max, r.finalAccuracy());
                early += r.testAccuracy()[4] / group.size();
                steps.append(steps.length() > 0 ? ", " : "").append(r.stepsToTarget() < 0 ? "never" : r.stepsToTarget());
            }
            double var = 0;
            for (Training.Result r : group) {
                var += Math.pow(r.finalAccuracy() - mean, 2) / Math.max(1, group.size() - 1);
            }
            b.append(String.format("| %s | %.1f%% ± %.1f | %.1f%%–%.1f%% | %s | %.1f%% |%n", group.get(0).config().label(),
                    100 * mean, 100 * Math.sqrt(var), 100 * min, 100 * max, steps, 100 * early));
        }
        return b.toString();
    }

    /** Eval mode, folded and unfolded: the same predictions, and indicative throughput (JMH has the real numbers). */
    static String serve(Sequential model, Digits test) {
        model.setTraining(false);
        Sequential folded = Mlp.folded(model);
        folded.setTraining(false);
        TensorShape shape = TensorShape.nc(test.size(), Digits.FEATURES);
        float[] a = model.forward(shape, test.features()).clone();
        float[] b = folded.forward(shape, test.features()).clone();
        int[] pa = Training.predict(model, test);
        int[] pb = Training.predict(folded, test);
        int same = 0;
        for (int i = 0; i < pa.length; i++) {
            same += pa[i] == pb[i] ? 1 : 0;
        }
        double maxDiff = 0;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        }
        // Interleaved rounds, median of each: the two models see the same machine conditions.
        double[] unfoldedRates = new double[5];
        double[] foldedRates = new double[5];
        for (int round = 0; round < 5; round++) {
            unfoldedRates[round] = throughput(model, shape, test.features());
            foldedRates[round] = throughput(folded, shape, test.features());
        }
        java.util.Arrays.sort(unfoldedRates);
        java.util.Arrays.sort(foldedRates);
        double unfoldedRate = unfoldedRates[2];
        double foldedRate = foldedRates[2];
        return String.format("Serving the BN model (lr %s, seed %d) in eval mode: folded into its Linear layers, "
                        + "%d of %d test predictions identical, largest logit difference %.2g, test accuracy %.1f%% "
                        + "both ways.%nThroughput, batches of %d on one thread (indicative: median of 5 interleaved "
                        + "timed rounds): unfolded %.0f samples/s, folded %.0f samples/s (%.2fx).%n",
                BASE_LR, SEEDS[0], same, pa.length, maxDiff, 100 * Training.accuracy(folded, test),
                test.size(), unfoldedRate, foldedRate, foldedRate / unfoldedRate);
    }

    static double throughput(Sequential model, TensorShape shape, float[] x) {
        for (int i = 0; i < 50; i++) {
            model.forward(shape, x);
        }
        int reps = 100;
        long t0 = System.nanoTime();
        for (int i = 0; i < reps; i++) {
            model.forward(shape, x);
        }
        return reps * shape.batch() / ((System.nanoTime() - t0) / 1e9);
    }

    static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).trim();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: keep the default
        }
        return String.format("%s, %d cores, JDK %s, %s kernels", cpu, Runtime.getRuntime().availableProcessors(),
                Runtime.version(), BatchNorm.get().implementation());
    }
}
