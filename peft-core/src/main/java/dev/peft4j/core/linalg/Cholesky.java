package dev.peft4j.core.linalg;

/**
 * Float64 Cholesky factorization {@code G + shift I = R^T R} of a Gram matrix that tolerates rank
 * deficiency: a pivot at or below {@code pivotFloor} marks its index deficient, and the row of
 * {@code R} for that index is zero (the column it belongs to adds nothing new to the span of the
 * earlier ones).
 */
final class Cholesky {

    /** Upper-triangular factor as rows; rows of deficient indices are zero. */
    final double[][] r;

    /** Whether each index was found (numerically) dependent on the earlier ones. */
    final boolean[] deficient;

    /** How many indices are deficient. */
    final int deficientCount;

    private Cholesky(double[][] r, boolean[] deficient, int deficientCount) {
        this.r = r;
        this.deficient = deficient;
        this.deficientCount = deficientCount;
    }

    /**
     * Factors {@code g + shift I}; only the upper triangle of {@code g} is read.
     *
     * @param g symmetric positive semi-definite matrix as rows (not modified)
     * @param shift added to the diagonal (shifted CholeskyQR), 0 for none
     * @param pivotFloor pivots at or below this are treated as zero
     * @return the factor
     */
    static Cholesky factor(double[][] g, double shift, double pivotFloor) {
        int k = g.length;
        double[][] work = new double[k][];
        for (int i = 0; i < k; i++) {
            work[i] = g[i].clone();
            work[i][i] += shift;
        }
        double[][] r = new double[k][k];
        boolean[] deficient = new boolean[k];
        int count = 0;
        for (int j = 0; j < k; j++) {
            double pivot = work[j][j];
            if (!(pivot > pivotFloor)) {
                deficient[j] = true;
                count++;
                continue;
            }
            double rjj = Math.sqrt(pivot);
            double[] rj = r[j];
            rj[j] = rjj;
            for (int l = j + 1; l < k; l++) {
                rj[l] = work[j][l] / rjj;
            }
            // right-looking update of the trailing upper triangle, one row at a time
            for (int l = j + 1; l < k; l++) {
                if (rj[l] != 0) {
                    Kernels.axpy(-rj[l], rj, work[l], l, k);
                }
            }
        }
        return new Cholesky(r, deficient, count);
    }

    /**
     * Inverse of {@code R} restricted to the non-deficient indices, embedded with zero rows and
     * columns at the deficient ones, so that {@code Y * inverse()} has exactly zero columns there.
     *
     * @return upper-triangular matrix as rows
     */
    double[][] inverse() {
        int k = r.length;
        double[][] x = new double[k][k];
        for (int i = k - 1; i >= 0; i--) {
            if (deficient[i]) {
                continue;
            }
            double[] xi = x[i];
            xi[i] = 1.0;
            for (int t = i + 1; t < k; t++) {
                if (r[i][t] != 0 && !deficient[t]) {
                    Kernels.axpy(-r[i][t], x[t], xi, t, k);
                }
            }
            double inv = 1.0 / r[i][i];
            for (int t = i; t < k; t++) {
                xi[t] *= inv;
            }
        }
        return x;
    }

    /**
     * Frobenius-norm condition estimate {@code ||R|| ||R^-1||} (an upper bound of the 2-norm
     * condition number of the non-deficient part).
     *
     * @param inverse the result of {@link #inverse()}
     * @return the estimate
     */
    double conditionEstimate(double[][] inverse) {
        return Math.sqrt(sumOfSquares(r) * sumOfSquares(inverse));
    }

    private static double sumOfSquares(double[][] m) {
        double s = 0;
        for (double[] row : m) {
            s += Kernels.dot(row, row, 0, row.length);
        }
        return s;
    }
}
