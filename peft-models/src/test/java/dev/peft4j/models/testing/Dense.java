package dev.peft4j.models.testing;

import org.apache.commons.math3.special.Erf;

/**
 * Reference computations in double precision on plain arrays, written out step by step: the
 * independent side of the model tests. A sequence is a {@code double[T][H]} matrix.
 */
public final class Dense {

    private Dense() {}

    /** Returns {@code x W^T + b} for {@code W [out, in]} stored row-major (b may be null). */
    public static double[][] linear(double[][] x, float[] w, float[] b, int out) {
        int in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) {
                    s += x[t][i] * w[o * in + i];
                }
                y[t][o] = s;
            }
        }
        return y;
    }

    /** Returns {@code (x - mean) / sqrt(var + eps) * g + b} over each row. */
    public static double[][] layerNorm(double[][] x, float[] g, float[] b, double eps) {
        double[][] y = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            int n = x[t].length;
            double mean = 0;
            for (double v : x[t]) {
                mean += v / n;
            }
            double var = 0;
            for (double v : x[t]) {
                var += (v - mean) * (v - mean) / n;
            }
            y[t] = new double[n];
            for (int i = 0; i < n; i++) {
                y[t][i] = (x[t][i] - mean) / Math.sqrt(var + eps) * g[i] + b[i];
            }
        }
        return y;
    }

    /** Returns {@code g * x / sqrt(mean(x^2) + eps)} over each row. */
    public static double[][] rmsNorm(double[][] x, float[] g, double eps) {
        double[][] y = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double ms = 0;
            for (double v : x[t]) {
                ms += v * v / x[t].length;
            }
            y[t] = new double[x[t].length];
            for (int i = 0; i < y[t].length; i++) {
                y[t][i] = g[i] * x[t][i] / Math.sqrt(ms + eps);
            }
        }
        return y;
    }

    /** Exact GELU: {@code x * (1 + erf(x / sqrt 2)) / 2}. */
    public static double gelu(double x) {
        return 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
    }

    /** SiLU: {@code x / (1 + e^-x)}. */
    public static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    /** Elementwise sum of two matrices. */
    public static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][a[0].length];
        for (int t = 0; t < a.length; t++) {
            for (int i = 0; i < a[t].length; i++) {
                y[t][i] = a[t][i] + b[t][i];
            }
        }
        return y;
    }

    /**
     * Multi-head attention with explicit loops: for query {@code t} of head {@code h}, softmax
     * over allowed keys {@code s} of {@code q.k / sqrt(D)}, then the weighted sum of values.
     *
     * @param q queries {@code [T][heads * D]}
     * @param k keys {@code [S][kvHeads * D]}
     * @param v values {@code [S][kvHeads * D]}
     * @param heads query heads; head {@code h} reads key/value head {@code h / (heads / kvHeads)}
     * @param kvHeads key/value heads
     * @param allowed {@code allowed[t][s]}: may query t attend key s
     * @return the concatenated head outputs {@code [T][heads * D]}
     */
    public static double[][] attention(
            double[][] q, double[][] k, double[][] v, int heads, int kvHeads, boolean[][] allowed) {
        int d = q[0].length / heads;
        int group = heads / kvHeads;
        double[][] out = new double[q.length][heads * d];
        for (int h = 0; h < heads; h++) {
            int kvh = h / group;
            for (int t = 0; t < q.length; t++) {
                double[] w = new double[k.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int s = 0; s < k.length; s++) {
                    if (!allowed[t][s]) {
                        continue;
                    }
                    double dot = 0;
                    for (int j = 0; j < d; j++) {
                        dot += q[t][h * d + j] * k[s][kvh * d + j];
                    }
                    w[s] = dot / Math.sqrt(d);
                    max = Math.max(max, w[s]);
                }
                double sum = 0;
                for (int s = 0; s < k.length; s++) {
                    w[s] = allowed[t][s] ? Math.exp(w[s] - max) : 0;
                    sum += w[s];
                }
                // a query with no allowed key (a padded position) is left at zero: don't-care
                for (int s = 0; s < k.length; s++) {
                    if (!allowed[t][s]) {
                        continue;
                    }
                    for (int j = 0; j < d; j++) {
                        out[t][h * d + j] += w[s] / sum * v[s][kvh * d + j];
                    }
                }
            }
        }
        return out;
    }

    /** Flattens the first {@code rows} rows of a matrix, row-major, to float. */
    public static float[] flatten(double[][] x, int rows) {
        int n = x[0].length;
        float[] out = new float[rows * n];
        for (int t = 0; t < rows; t++) {
            for (int i = 0; i < n; i++) {
                out[t * n + i] = (float) x[t][i];
            }
        }
        return out;
    }
}
