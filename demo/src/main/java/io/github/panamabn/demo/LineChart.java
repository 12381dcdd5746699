package io.github.panamabn.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.text.DecimalFormat;
import java.util.List;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.axis.SymbolAxis;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.DeviationRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.YIntervalSeries;
import org.jfree.data.xy.YIntervalSeriesCollection;

/** The demo's accuracy chart, drawn by JFreeChart: a line per run, its band the seeds' spread, every epoch a tick. */
final class LineChart {
    /** One line: its label, color, dash, and per x = 1, 2, ... the mean with the lowest and highest value. */
    record Series(String label, Color color, boolean dashed, double[] mean, double[] low, double[] high) {
    }

    private LineChart() {
    }

    static void write(Path file, String title, String xLabel, String yLabel, double yMin, double yMax,
                      List<Series> series) throws IOException {
        write(file, title, xLabel, yLabel, yMin, yMax, null, series);
    }

    /** As above, the i-th point of each series at x label {@code xLabels[i]} when they are given (else at i + 1). */
    static void write(Path file, String title, String xLabel, String yLabel, double yMin, double yMax,
                      String[] xLabels, List<Series> series) throws IOException {
        YIntervalSeriesCollection data = new YIntervalSeriesCollection();
        DeviationRenderer renderer = new DeviationRenderer(true, false);
        int points = 1;
        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            YIntervalSeries line = new YIntervalSeries(s.label());
            for (int i = 0; i < s.mean().length; i++) {
                line.add(xLabels == null ? i + 1 : i, s.mean()[i], s.low()[i], s.high()[i]);
            }
            points = Math.max(points, s.mean().length);
            data.addSeries(line);
            renderer.setSeriesPaint(k, s.color());
            renderer.setSeriesFillPaint(k, s.color());
            renderer.setSeriesStroke(k, s.dashed()
                    ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {8f, 6f}, 0f)
                    : new BasicStroke(2f));
        }
        renderer.setAlpha(0.18f);
        NumberAxis x;
        if (xLabels == null) {
            x = new NumberAxis(xLabel);
            x.setRange(0.5, points + 0.5);
            x.setTickUnit(new NumberTickUnit(1));                   // every epoch labelled
        } else {
            SymbolAxis symbols = new SymbolAxis(xLabel, xLabels);
            symbols.setGridBandsVisible(false);
            x = symbols;
            x.setRange(-0.5, xLabels.length - 0.5);
        }
        x.setTickLabelFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        NumberAxis y = new NumberAxis(yLabel);
        y.setRange(yMin, yMax);
        y.setTickUnit(new NumberTickUnit(0.1));
        y.setNumberFormatOverride(new DecimalFormat("0%"));
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(new Color(225, 225, 225));
        plot.setRangeGridlinePaint(new Color(225, 225, 225));
        JFreeChart chart = new JFreeChart(null, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setTitle(new TextTitle(title + " (bands: the seeds' lowest to highest)",
                new Font(Font.SANS_SERIF, Font.BOLD, 15)));
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 1100, 600);
    }
}
