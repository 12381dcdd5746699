package io.github.panamabn.demo;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** A small line chart written as PNG with the JDK's own Java2D, headless: no charting dependency. */
final class LineChart {
    /** One line: its label, color, dash, and y values at x = 1, 2, ... */
    record Series(String label, Color color, boolean dashed, double[] values) {
    }

    private LineChart() {
    }

    static void write(Path file, String title, String xLabel, String yLabel, double yMin, double yMax,
                      List<Series> series) throws IOException {
        int width = 960;
        int height = 560;
        int left = 80;
        int right = 250;
        int top = 50;
        int bottom = 60;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        int plotW = width - left - right;
        int plotH = height - top - bottom;
        int points = series.stream().mapToInt(s -> s.values().length).max().orElse(1);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.setColor(Color.BLACK);
        g.drawString(title, left, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        // grid and y ticks
        for (int t = 0; t <= 5; t++) {
            double v = yMin + (yMax - yMin) * t / 5;
            int y = top + plotH - (int) Math.round(plotH * (v - yMin) / (yMax - yMin));
            g.setColor(new Color(230, 230, 230));
            g.drawLine(left, y, left + plotW, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format("%.0f%%", 100 * v), left - 45, y + 4);
        }
        // x ticks
        int stepX = Math.max(1, points / 10);
        for (int i = 1; i <= points; i += stepX) {
            int x = left + (int) Math.round(plotW * (i - 1) / (double) Math.max(1, points - 1));
            g.drawString(Integer.toString(i), x - 4, top + plotH + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(left, top, plotW, plotH);
        g.drawString(xLabel, left + plotW / 2 - 20, height - 20);
        g.drawString(yLabel, 10, top - 10);
        int legendY = top + 10;
        for (Series s : series) {
            g.setColor(s.color());
            g.setStroke(s.dashed()
                    ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {8f, 6f}, 0f)
                    : new BasicStroke(2f));
            int prevX = -1;
            int prevY = -1;
            for (int i = 0; i < s.values().length; i++) {
                double v = Math.max(yMin, Math.min(yMax, s.values()[i]));
                int x = left + (int) Math.round(plotW * i / (double) Math.max(1, points - 1));
                int y = top + plotH - (int) Math.round(plotH * (v - yMin) / (yMax - yMin));
                if (prevX >= 0) {
                    g.drawLine(prevX, prevY, x, y);
                }
                prevX = x;
                prevY = y;
            }
            g.drawLine(left + plotW + 15, legendY, left + plotW + 45, legendY);
            g.setColor(Color.BLACK);
            g.drawString(s.label(), left + plotW + 52, legendY + 4);
            legendY += 22;
        }
        g.dispose();
        ImageIO.write(image, "png", file.toFile());
    }
}
