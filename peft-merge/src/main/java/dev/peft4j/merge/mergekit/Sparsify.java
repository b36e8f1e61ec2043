package dev.peft4j.merge.mergekit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;

/**
 * mergekit's {@code sparsify.py}: the ways a task vector is thinned before a generalized task
 * arithmetic merge. Results are on the input's manager.
 */
final class Sparsify {

    private Sparsify() {}

    /** {@code magnitude}: keeps the {@code int(density n)} entries of largest magnitude (sparsify.py 56-72). */
    static NDArray magnitude(NDArray t, double density, boolean rescale, String where) {
        if (density >= 1) {
            return t;
        }
        long n = t.size();
        long k = (long) (density * n);
        if (k <= 0) {
            throw new IllegalArgumentException(
                    where
                            + ": density "
                            + density
                            + " keeps no entry of its "
                            + n
                            + " (mergekit asserts k > 0)");
        }
        NDArray order = t.abs().flatten().argSort(0, false);
        float[] mask = new float[(int) n];
        long[] idx = order.toLongArray();
        for (int i = 0; i < k; i++) {
            mask[(int) idx[i]] = 1;
        }
        return rescaled(t, t.getManager().create(mask, t.getShape()), rescale);
    }

    /**
     * {@code magnitude_outliers} (breadcrumbs, sparsify.py 75-110): drops the {@code int(gamma n)}
     * largest magnitudes and the smallest ones, keeping {@code int(density n)}. Where {@code
     * int(gamma n)} is 0, mergekit's {@code indices[n_bot:-0]} keeps nothing; here the largest are
     * then kept (nothing is dropped from the top), as the method describes.
     */
    static NDArray magnitudeOutliers(NDArray t, double density, double gamma, boolean rescale) {
        if (density >= 1) {
            return t;
        }
        int n = (int) t.size();
        int target = (int) (density * n);
        int nTop = (int) (gamma * n);
        int nBot = n - target - nTop;
        if (nBot < 0) {
            nTop += nBot;
            nBot = 0;
        }
        long[] idx = t.abs().flatten().argSort(0, true).toLongArray();
        float[] mask = new float[n];
        for (int i = nBot; i < n - nTop; i++) {
            mask[(int) idx[i]] = 1;
        }
        return rescaled(t, t.getManager().create(mask, t.getShape()), rescale);
    }

    /** {@code bernoulli} (DARE, sparsify.py 113-130): each entry kept with probability {@code density}. */
    static NDArray bernoulli(NDArray t, double density, boolean rescale, SplittableRandom rnd) {
        if (density >= 1) {
            return t;
        }
        float[] mask = new float[(int) t.size()];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = rnd.nextDouble() < density ? 1 : 0;
        }
        return rescaled(t, t.getManager().create(mask, t.getShape()), rescale);
    }

    /**
     * {@code della_magprune} (sparsify.py 133-173): per row (a vector is one row), keep
     * probabilities rising linearly with the magnitude's rank from {@code density - epsilon} to
     * {@code density + epsilon}.
     */
    static NDArray dellaMagprune(
            NDArray t,
            double density,
            double epsilon,
            boolean rescale,
            SplittableRandom rnd,
            String where) {
        if (density >= 1) {
            return t;
        }
        if (density <= 0) {
            return t.zerosLike();
        }
        if (density + epsilon >= 1 || density - epsilon <= 0) {
            throw new IllegalArgumentException(
                    where
                            + ": epsilon "
                            + epsilon
                            + " must keep density +/- epsilon in (0, 1), density "
                            + density);
        }
        Shape shape = t.getShape();
        NDArray rows = shape.dimension() < 2 ? t.reshape(1, -1) : t;
        long cols = rows.getShape().get(rows.getShape().dimension() - 1);
        // ranks 1..cols of |x| within each row (argsort of argsort), then (rank - 1) / (cols - 1)
        NDArray ranks =
                rows.abs().argSort(-1, true).argSort(-1, true).toType(DataType.FLOAT32, false);
        NDArray rankNorm = cols > 1 ? ranks.div(cols - 1).clip(0, 1) : ranks.zerosLike();
        float[] probs = rankNorm.mul(2 * epsilon).add(density - epsilon).toFloatArray();
        float[] mask = new float[probs.length];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = rnd.nextDouble() < probs[i] ? 1 : 0;
        }
        return rescaled(t, t.getManager().create(mask, shape), rescale);
    }

    /** {@code rescaled_masked_tensor} with the l1 norm (sparsify.py 23-53; {@code rescale} picks l1, none otherwise). */
    private static NDArray rescaled(NDArray t, NDArray mask, boolean rescale) {
        NDArray masked = t.mul(mask);
        if (!rescale) {
            return masked;
        }
        double before = t.abs().sum().toType(DataType.FLOAT64, false).getDouble();
        double after = masked.abs().sum().toType(DataType.FLOAT64, false).getDouble();
        double eps = 1e-7;
        if (before < eps || after < eps) {
            return masked;
        }
        return masked.mul(before / after);
    }
}
