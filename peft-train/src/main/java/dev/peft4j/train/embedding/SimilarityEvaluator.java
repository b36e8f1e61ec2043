package dev.peft4j.train.embedding;

import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * sentence-transformers' {@code EmbeddingSimilarityEvaluator} for the cosine: the Pearson and
 * Spearman correlations (as {@code scipy.stats.pearsonr} and {@code spearmanr}: Pearson of the
 * ranks, ties given their average rank) between each pair's cosine similarity and its gold score.
 */
public final class SimilarityEvaluator {

    private SimilarityEvaluator() {}

    /**
     * @param a the first texts' embeddings
     * @param b the second texts' embeddings, pair by pair
     * @param gold the gold scores
     * @return {@code pearson_cosine} and {@code spearman_cosine}
     */
    public static Map<String, Double> evaluate(float[][] a, float[][] b, double[] gold) {
        double[] cos = new double[gold.length];
        for (int i = 0; i < gold.length; i++) {
            cos[i] = cosine(a[i], b[i]);
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("pearson_cosine", pearson(cos, gold));
        out.put("spearman_cosine", spearman(cos, gold));
        return out;
    }

    /** The cosine of two vectors, in double precision. */
    public static double cosine(float[] x, float[] y) {
        double dot = 0;
        double nx = 0;
        double ny = 0;
        for (int i = 0; i < x.length; i++) {
            dot += (double) x[i] * y[i];
            nx += (double) x[i] * x[i];
            ny += (double) y[i] * y[i];
        }
        return dot / Math.max(Math.sqrt(nx) * Math.sqrt(ny), 1e-12);
    }

    /** Pearson's correlation. */
    public static double pearson(double[] x, double[] y) {
        double mx = Arrays.stream(x).average().orElse(0);
        double my = Arrays.stream(y).average().orElse(0);
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    /** Spearman's correlation: Pearson of the average ranks. */
    public static double spearman(double[] x, double[] y) {
        return pearson(ranks(x), ranks(y));
    }

    /** 1-based ranks, ties sharing their average rank ({@code scipy.stats.rankdata}). */
    static double[] ranks(double[] v) {
        Integer[] order = new Integer[v.length];
        for (int i = 0; i < v.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingDouble(i -> v[i]));
        double[] out = new double[v.length];
        int i = 0;
        while (i < v.length) {
            int j = i;
            while (j + 1 < v.length && v[order[j + 1]] == v[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int t = i; t <= j; t++) {
                out[order[t]] = rank;
            }
            i = j + 1;
        }
        return out;
    }
}
