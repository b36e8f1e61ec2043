package dev.peft4j.core.linalg;

/**
 * Float64 vector kernels for the small Java factorizations.
 *
 * <p>Every kernel reads and writes distinct {@code double[]} rows with one shared loop index:
 * HotSpot C2 vectorizes that form (measured about 4x faster than the same loop on offsets into one
 * flat array, which it leaves scalar), so matrices here are {@code double[][]} of rows.
 */
final class Kernels {

    private Kernels() {}

    /** {@code y[from..to) += alpha * x[from..to)}. */
    static void axpy(double alpha, double[] x, double[] y, int from, int to) {
        for (int i = from; i < to; i++) {
            y[i] += alpha * x[i];
        }
    }

    /** Dot product of {@code x[from..to)} and {@code y[from..to)}, four partial sums for speed. */
    static double dot(double[] x, double[] y, int from, int to) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = from;
        for (; i + 3 < to; i += 4) {
            s0 += x[i] * y[i];
            s1 += x[i + 1] * y[i + 1];
            s2 += x[i + 2] * y[i + 2];
            s3 += x[i + 3] * y[i + 3];
        }
        for (; i < to; i++) {
            s0 += x[i] * y[i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** Symmetric rank-2 row update {@code a[from..to) -= vi * w + wi * v}. */
    static void rank2(double[] a, double vi, double[] w, double wi, double[] v, int from, int to) {
        for (int i = from; i < to; i++) {
            a[i] -= vi * w[i] + wi * v[i];
        }
    }

    /** Plane rotation of two rows: {@code (x, y) <- (c x - s y, s x + c y)}. */
    static void rotate(double[] x, double[] y, double c, double s) {
        for (int i = 0; i < x.length; i++) {
            double xi = x[i];
            double yi = y[i];
            x[i] = c * xi - s * yi;
            y[i] = s * xi + c * yi;
        }
    }

    /** Identity matrix of order n as rows. */
    static double[][] identity(int n) {
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) {
            m[i][i] = 1;
        }
        return m;
    }

    /** Row-major flattening of a matrix given as rows. */
    static double[] flatten(double[][] rows, int cols) {
        double[] flat = new double[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * cols, cols);
        }
        return flat;
    }

    /** Rows of a row-major matrix. */
    static double[][] unflatten(double[] flat, int rows, int cols) {
        double[][] m = new double[rows][];
        for (int i = 0; i < rows; i++) {
            m[i] = new double[cols];
            System.arraycopy(flat, i * cols, m[i], 0, cols);
        }
        return m;
    }

    /** Product of two upper-triangular matrices of order n (rows), exploiting the zeros. */
    static double[][] upperTimesUpper(double[][] a, double[][] b) {
        int n = a.length;
        double[][] c = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int t = i; t < n; t++) {
                if (a[i][t] != 0) {
                    axpy(a[i][t], b[t], c[i], t, n);
                }
            }
        }
        return c;
    }
}
