package io.github.panamabn.verification;

import io.github.panamabn.kernels.TensorShape;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Families of input data, ordinary and adversarial. Each channel gets its own parameters drawn from
 * the seeded source, so one tensor mixes easy and hard channels.
 */
public enum DataFamily {
    /** N(mu, sigma^2) with mu in [-3, 3] and sigma in [0.1, 10]. */
    GAUSSIAN,
    /** sigma * 10^k + N(0, sigma^2), k from 1 to 5: the condition number of the variance is about 10^k. */
    OFFSET,
    /** Every element of a channel equal: variance exactly 0. */
    CONSTANT,
    /** Offset Gaussian data sorted ascending along the channel: stalls a plain float Welford. */
    SORTED,
    /** The first half of a channel at one level, the second at another. */
    STEP,
    /** N(0, 1) with one element of magnitude 1e4. */
    OUTLIER,
    /** N(0, 1) * 1e-30: small but normal floats. */
    TINY,
    /** N(0, 1) * 1e17 + 1e17: large magnitudes whose squares still fit a float. */
    HUGE,
    /** N(0, 1) * 1e-40: subnormal floats, whose squares underflow. */
    SUBNORMAL,
    /**
     * Shuffled pairs symmetric around a power-of-two mean with dyadic deviations: every value, the
     * mean and the variance are exact, so the oracle itself has no rounding error.
     */
    SYMMETRIC;

    /** Fills {@code x[offset ..]} with this family's data for {@code shape}. */
    public void fill(TensorShape shape, float[] x, int offset, SplittableRandom random) {
        long count = shape.perChannelCount();
        float[] channel = new float[Math.toIntExact(count)];
        for (int c = 0; c < shape.channels(); c++) {
            channelValues(channel, random);
            long i = 0;
            for (long n = 0; n < shape.batch(); n++) {
                for (long s = 0; s < shape.spatialSize(); s++) {
                    x[offset + (int) shape.index(n, c, s)] = channel[(int) i++];
                }
            }
        }
    }

    private void channelValues(float[] v, SplittableRandom r) {
        int n = v.length;
        switch (this) {
            case GAUSSIAN -> {
                double mu = r.nextDouble(-3, 3);
                double sigma = r.nextDouble(0.1, 10);
                gaussian(v, r, mu, sigma);
            }
            case OFFSET -> {
                double sigma = Math.pow(10, r.nextDouble(-2, 2));
                gaussian(v, r, sigma * Math.pow(10, r.nextInt(1, 6)), sigma);
            }
            case CONSTANT -> Arrays.fill(v, (float) (r.nextBoolean() ? r.nextDouble(-1e4, 1e4) : r.nextGaussian()));
            case SORTED -> {
                double sigma = Math.pow(10, r.nextDouble(-2, 2));
                gaussian(v, r, sigma * Math.pow(10, r.nextInt(0, 5)), sigma);
                Arrays.sort(v);
            }
            case STEP -> {
                float low = (float) r.nextDouble(-100, 100);
                float high = low + (float) Math.pow(10, r.nextDouble(-2, 3));
                for (int i = 0; i < n; i++) {
                    v[i] = i < n / 2 ? low : high;
                }
            }
            case OUTLIER -> {
                gaussian(v, r, 0, 1);
                v[r.nextInt(n)] = r.nextBoolean() ? 1e4f : -1e4f;
            }
            case TINY -> gaussian(v, r, 0, 1e-30);
            case HUGE -> gaussian(v, r, 1e17, 1e17);
            case SUBNORMAL -> gaussian(v, r, 0, 1e-40);
            case SYMMETRIC -> {
                float center = (float) Math.scalb(1.0, r.nextInt(-4, 12));
                for (int i = 0; i + 1 < n; i += 2) {
                    float d = (float) Math.scalb(r.nextInt(1, 1 << 10), -10);
                    v[i] = center + d;
                    v[i + 1] = center - d;
                }
                if (n % 2 == 1) {
                    v[n - 1] = center;
                }
                shuffle(v, r);
            }
            default -> throw new AssertionError(this);
        }
    }

    private static void gaussian(float[] v, SplittableRandom r, double mu, double sigma) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (mu + sigma * gaussian(r));
        }
    }

    /** A standard normal deviate by Box-Muller (SplittableRandom has none of its own). */
    public static double gaussian(SplittableRandom r) {
        double u1 = 1 - r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    private static void shuffle(float[] v, SplittableRandom r) {
        for (int i = v.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            float t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
    }
}
