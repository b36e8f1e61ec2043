package dev.peft4j.adapters;

import ai.djl.ndarray.NDArray;
import java.util.SplittableRandom;

/**
 * Host-side seeded initialization shared by the adapters: values are drawn in Java from a
 * {@link SplittableRandom}, so the same seed gives the same weights on any engine and device.
 */
public final class SeededFill {

    private SeededFill() {}

    /** Fills {@code target} with {@code U(-bound, bound)} in row-major order. */
    public static void uniform(NDArray target, SplittableRandom rnd, double bound) {
        float[] v = new float[Math.toIntExact(target.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
        }
        target.set(v);
    }

    /** Fills {@code target} with {@code N(0, std^2)} (Box-Muller) in row-major order. */
    public static void gaussian(NDArray target, SplittableRandom rnd, double std) {
        float[] v = new float[Math.toIntExact(target.size())];
        for (int i = 0; i < v.length; i += 2) {
            double u1 = 1.0 - rnd.nextDouble();
            double u2 = rnd.nextDouble();
            double rad = Math.sqrt(-2 * Math.log(u1));
            v[i] = (float) (std * rad * Math.cos(2 * Math.PI * u2));
            if (i + 1 < v.length) {
                v[i + 1] = (float) (std * rad * Math.sin(2 * Math.PI * u2));
            }
        }
        target.set(v);
    }
}
