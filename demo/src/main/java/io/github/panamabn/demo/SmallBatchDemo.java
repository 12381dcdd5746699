package io.github.panamabn.demo;

import io.github.panamabn.kernels.TensorShape;
import io.github.panamabn.kernels.TensorView;
import io.github.panamabn.nn.norm.BatchNormLayer;
import io.github.panamabn.nn.Layer;
import io.github.panamabn.nn.Sequential;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The second part of the main job, for the seeds' small-batch warning: batch norm couples the
 * samples of a batch, so at small batches its statistics are noisy and what it serves with (running
 * averages) is not what it trained with. The digits MLP of {@link DigitsDemo} with batch norm, layer
 * norm, group norm and none, at batch sizes 2 to 128, three seeds each, the same epochs for every
 * size and the learning rate scaled with the batch (the linear scaling rule from the demo's 0.2 at
 * 60). Batch norm is served twice: with its running averages, and with its population statistics
 * recomputed exactly from the training set (the layer's {@code recomputeRunningStatistics}), which
 * separates noisy training from a train/serve mismatch. Writes a Markdown report and a chart into the
 * output folder (first argument, default {@code demo/target/digits}).
 */
public final class SmallBatchDemo {
    static final int[] BATCHES = {2, 4, 8, 32, 128};
    static final Mlp.Norm[] NORMS = {Mlp.Norm.NONE, Mlp.Norm.BATCH, Mlp.Norm.LAYER, Mlp.Norm.GROUP};
    static final int EPOCHS = 12;

    private SmallBatchDemo() {
    }

    /** One norm at one batch size over the seeds: per seed the final accuracy, steps to target, and BN's recomputed accuracy. */
    record Cell(double[] accuracy, int[] steps, double[] populationAccuracy) {
    }

    /** The learning rate for a batch size: the demo's base rate scaled linearly from its batch of 60. */
    static float learningRate(int batch) {
        return DigitsDemo.BASE_LR * batch / DigitsDemo.BATCH;
    }

    public static void main(String[] args) throws IOException {
        Locale.setDefault(Locale.ROOT);
        Path outDir = Path.of(args.length > 0 ? args[0] : "demo/target/digits");
        Files.createDirectories(outDir);
        String machine = DigitsDemo.machine();
        Digits[] split = Digits.load().split(DigitsDemo.TEST_COUNT, DigitsDemo.SPLIT_SEED);
        Digits train = split[0];
        Digits test = split[1];
        System.out.printf("panama-bn small-batch experiment on %s%nbatch sizes %s, %d epochs each, lr 0.2 x batch / 60,"
                        + " momentum %.1f, seeds %s%n", machine, Arrays.toString(BATCHES), EPOCHS,
                DigitsDemo.MOMENTUM, Arrays.toString(DigitsDemo.SEEDS));
        long start = System.nanoTime();
        Cell[][] cells = new Cell[NORMS.length][BATCHES.length];
        for (int n = 0; n < NORMS.length; n++) {
            for (int b = 0; b < BATCHES.length; b++) {
                cells[n][b] = run(NORMS[n], BATCHES[b], train, test);
                System.out.printf("  %-10s batch %3d: test accuracy %s%n", NORMS[n].label, BATCHES[b],
                        percentages(cells[n][b].accuracy()));
            }
        }
        String report = report(cells) + String.format("%nAll %d runs took %.0f s.%n",
                NORMS.length * BATCHES.length * DigitsDemo.SEEDS.length, (System.nanoTime() - start) / 1e9);
        System.out.println();
        System.out.println(report);
        Path chart = outDir.resolve("small-batch.png");
        writeChart(chart, cells);
        Path file = outDir.resolve("small-batch-results.md");
        Files.writeString(file, "Run on " + LocalDate.now() + ", " + machine + ".\n\n" + report
                + "\n![final test accuracy per batch size](small-batch.png)\n");
        System.out.println("wrote " + file + " and " + chart);
    }

    static Cell run(Mlp.Norm norm, int batch, Digits train, Digits test) {
        long[] seeds = DigitsDemo.SEEDS;
        double[] accuracy = new double[seeds.length];
        int[] steps = new int[seeds.length];
        double[] population = new double[seeds.length];
        for (int s = 0; s < seeds.length; s++) {
            Training.Config config = new Training.Config(norm, learningRate(batch), seeds[s], EPOCHS, batch,
                    DigitsDemo.MOMENTUM, DigitsDemo.WIDTH);
            Training.Result r = Training.run(config, train, test, DigitsDemo.TARGET, null);
            accuracy[s] = r.finalAccuracy();
            steps[s] = r.stepsToTarget();
            population[s] = Double.NaN;
            if (norm == Mlp.Norm.BATCH) {
                recomputePopulationStatistics(r.model(), train);
                population[s] = Training.accuracy(r.model(), test);
            }
        }
        return new Cell(accuracy, steps, population);
    }

    /**
     * Each batch norm's running statistics replaced by the exact statistics of its input over the whole
     * training set, layer by layer in eval mode (so each sees the network it will serve in).
     */
    static void recomputePopulationStatistics(Sequential model, Digits train) {
        model.setTraining(false);
        List<Layer> layers = model.layers();
        TensorShape shape = TensorShape.nc(train.size(), Digits.FEATURES);
        float[] x = train.features();
        for (Layer layer : layers) {
            if (layer instanceof BatchNormLayer bn) {
                bn.recomputeRunningStatistics(List.of(TensorView.of(shape, x)));
            }
            TensorShape out = layer.outputShape(shape);
            float[] y = new float[Math.toIntExact(out.elementCount())];
            layer.forward(shape, x, y);
            shape = out;
            x = y;
        }
    }

    static String report(Cell[][] cells) {
        StringBuilder b = new StringBuilder();
        b.append(String.format("Final test accuracy after %d epochs, mean ± sd over %d seeds (%d test images):%n%n",
                EPOCHS, DigitsDemo.SEEDS.length, DigitsDemo.TEST_COUNT));
        header(b, "norm");
        for (int n = 0; n < NORMS.length; n++) {
            b.append("| ").append(NORMS[n].label);
            for (Cell c : cells[n]) {
                b.append(" | ").append(meanSd(c.accuracy()));
            }
            b.append(" |\n");
            if (NORMS[n] == Mlp.Norm.BATCH) {
                b.append("| batch norm, population statistics recomputed");
                for (Cell c : cells[n]) {
                    b.append(" | ").append(meanSd(c.populationAccuracy()));
                }
                b.append(" |\n");
            }
        }
        b.append(String.format("%nTraining steps to %.0f%% test accuracy (eval mode, checked every %d samples; per seed;"
                + " \"never\" within the epochs):%n%n", 100 * DigitsDemo.TARGET, Training.CHECK_SAMPLES));
        header(b, "norm");
        for (int n = 0; n < NORMS.length; n++) {
            b.append("| ").append(NORMS[n].label);
            for (Cell c : cells[n]) {
                b.append(" | ");
                for (int s = 0; s < c.steps().length; s++) {
                    b.append(s > 0 ? ", " : "").append(c.steps()[s] < 0 ? "never" : String.valueOf(c.steps()[s]));
                }
            }
            b.append(" |\n");
        }
        return b.toString();
    }

    private static void header(StringBuilder b, String first) {
        b.append("| ").append(first);
        for (int batch : BATCHES) {
            b.append(" | batch ").append(batch).append(String.format(" (lr %.3g)", learningRate(batch)));
        }
        b.append(" |\n|---");
        b.append("|---".repeat(BATCHES.length)).append("|\n");
    }

    static String meanSd(double[] v) {
        double mean = Arrays.stream(v).average().orElse(Double.NaN);
        double var = 0;
        for (double a : v) {
            var += (a - mean) * (a - mean) / Math.max(1, v.length - 1);
        }
        return String.format("%.1f%% ± %.1f", 100 * mean, 100 * Math.sqrt(var));
    }

    private static String percentages(double[] v) {
        StringBuilder b = new StringBuilder();
        for (double a : v) {
            b.append(b.length() > 0 ? ", " : "").append(String.format("%.1f%%", 100 * a));
        }
        return b.toString();
    }

    private static void writeChart(Path file, Cell[][] cells) throws IOException {
        Color[] colors = {new Color(120, 120, 120), new Color(30, 90, 200), new Color(200, 60, 40),
            new Color(40, 160, 90)};
        List<LineChart.Series> series = new ArrayList<>();
        for (int n = 0; n < NORMS.length; n++) {
            series.add(summary(NORMS[n].label, colors[n], false, cells[n], false));
            if (NORMS[n] == Mlp.Norm.BATCH) {
                series.add(summary("batch norm, population statistics recomputed", colors[n], true, cells[n], true));
            }
        }
        String[] labels = Arrays.stream(BATCHES).mapToObj(String::valueOf).toArray(String[]::new);
        LineChart.write(file, "UCI digits: final test accuracy per batch size (" + EPOCHS + " epochs, lr scaled with "
                + "the batch)", "batch size", "test accuracy", 0.0, 1.0, labels, series);
    }

    private static LineChart.Series summary(String label, Color color, boolean dashed, Cell[] row, boolean population) {
        double[] mean = new double[row.length];
        double[] low = new double[row.length];
        double[] high = new double[row.length];
        for (int b = 0; b < row.length; b++) {
            double[] v = population ? row[b].populationAccuracy() : row[b].accuracy();
            mean[b] = Arrays.stream(v).average().orElse(Double.NaN);
            low[b] = Arrays.stream(v).min().orElse(Double.NaN);
            high[b] = Arrays.stream(v).max().orElse(Double.NaN);
        }
        return new LineChart.Series(label + " (mean of " + DigitsDemo.SEEDS.length + " seeds)", color, dashed, mean,
                low, high);
    }
}
