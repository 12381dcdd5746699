package io.github.panamabn.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.GZIPInputStream;

/**
 * The UCI "Optical Recognition of Handwritten Digits" test set (E. Alpaydin, C. Kaynak, 1998, CC BY
 * 4.0): 1797 images of 8x8 pixels in 0..16 with labels 0..9, shipped as a resource.
 *
 * @param features {@code [n][64]} row-major, scaled to [0, 1]
 * @param labels the classes
 */
public record Digits(float[] features, int[] labels) {
    /** Pixels per image. */
    public static final int FEATURES = 64;
    /** Classes. */
    public static final int CLASSES = 10;

    /** Number of images. */
    public int size() {
        return labels.length;
    }

    /** Loads the bundled data set. */
    public static Digits load() {
        try (InputStream raw = Digits.class.getResourceAsStream("digits.csv.gz")) {
            if (raw == null) {
                throw new IllegalStateException("resource digits.csv.gz is missing from the demo jar");
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(new GZIPInputStream(raw), StandardCharsets.US_ASCII));
            List<float[]> rows = new ArrayList<>();
            List<Integer> labels = new ArrayList<>();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isBlank()) {
                    continue;
                }
                String[] f = line.split(",");
                if (f.length != FEATURES + 1) {
                    throw new IllegalStateException("digits row " + (rows.size() + 1) + " has " + f.length + " fields, expected 65");
                }
                float[] row = new float[FEATURES];
                for (int i = 0; i < FEATURES; i++) {
                    row[i] = Integer.parseInt(f[i].trim()) / 16f;
                }
                rows.add(row);
                labels.add(Integer.parseInt(f[FEATURES].trim()));
            }
            float[] features = new float[rows.size() * FEATURES];
            int[] y = new int[rows.size()];
            for (int i = 0; i < rows.size(); i++) {
                System.arraycopy(rows.get(i), 0, features, i * FEATURES, FEATURES);
                y[i] = labels.get(i);
            }
            return new Digits(features, y);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The images at {@code indices}, in that order. */
    public Digits select(int[] indices) {
        float[] f = new float[indices.length * FEATURES];
        int[] y = new int[indices.length];
        for (int i = 0; i < indices.length; i++) {
            System.arraycopy(features, indices[i] * FEATURES, f, i * FEATURES, FEATURES);
            y[i] = labels[indices[i]];
        }
        return new Digits(f, y);
    }

    /** A seeded shuffle of {@code 0..n-1}. */
    public static int[] permutation(int n, SplittableRandom random) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** Train and test sets: a seeded shuffle, the first {@code testCount} images for testing. */
    public Digits[] split(int testCount, long seed) {
        int[] p = permutation(size(), new SplittableRandom(seed));
        int[] test = java.util.Arrays.copyOfRange(p, 0, testCount);
        int[] train = java.util.Arrays.copyOfRange(p, testCount, p.length);
        return new Digits[] {select(train), select(test)};
    }
}
