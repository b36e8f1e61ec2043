package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;

/**
 * Seeded test matrices built independently of the code under test: random Gaussians from {@link
 * Random}, orthonormal bases from Commons Math's Householder QR, and planted spectra {@code U0
 * diag(s0) V0^T} formed in double.
 */
final class TestMatrices {

    private TestMatrices() {}

    /** Gaussian matrix {@code [rows, cols]} in double. */
    static double[][] gaussian(long seed, int rows, int cols) {
        Random random = new Random(seed);
        double[][] m = new double[rows][cols];
        for (double[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = random.nextGaussian();
            }
        }
        return m;
    }

    /** {@code [n, k]} with orthonormal columns: Commons Math QR of a Gaussian matrix. */
    static double[][] orthonormal(long seed, int n, int k) {
        RealMatrix q = new QRDecomposition(new Array2DRowRealMatrix(gaussian(seed, n, k))).getQ();
        return q.getSubMatrix(0, n - 1, 0, k - 1).getData();
    }

    /** {@code U0 diag(s0) V0^T} in double for orthonormal {@code U0 [m, r]}, {@code V0 [n, r]}. */
    static double[][] planted(double[][] u0, double[] s0, double[][] v0) {
        int m = u0.length;
        int n = v0.length;
        double[][] a = new double[m][n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int t = 0; t < s0.length; t++) {
                    sum += u0[i][t] * s0[t] * v0[j][t];
                }
                a[i][j] = sum;
            }
        }
        return a;
    }

    /** Planted matrix {@code [m, n]} with the given spectrum and seeded singular vectors. */
    static double[][] planted(long seed, int m, int n, double[] s0) {
        return planted(orthonormal(seed, m, s0.length), s0, orthonormal(seed + 1, n, s0.length));
    }

    /** Geometric spectrum {@code first * ratio^i}, {@code i < count}. */
    static double[] geometric(double first, double ratio, int count) {
        double[] s = new double[count];
        for (int i = 0; i < count; i++) {
            s[i] = first * Math.pow(ratio, i);
        }
        return s;
    }

    /** The matrix as a float32 NDArray. */
    static NDArray toArray(NDManager manager, double[][] a) {
        return toArray(manager, a, DataType.FLOAT32);
    }

    /** The matrix as an NDArray of the given type. */
    static NDArray toArray(NDManager manager, double[][] a, DataType type) {
        int cols = a[0].length;
        double[] flat = new double[a.length * cols];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, flat, i * cols, cols);
        }
        try (NDArray d = manager.create(flat, new Shape(a.length, cols))) {
            return d.toType(type, true);
        }
    }

    /** Rows of a 2-D array, in double. */
    static double[][] rows(NDArray x) {
        long[] shape = x.getShape().getShape();
        try (NDArray d = x.toType(DataType.FLOAT64, true)) {
            double[] flat = d.toDoubleArray();
            int r = (int) shape[0];
            int c = (int) shape[1];
            double[][] m = new double[r][c];
            for (int i = 0; i < r; i++) {
                System.arraycopy(flat, i * c, m[i], 0, c);
            }
            return m;
        }
    }

    /** Values of a 1-D array, in double. */
    static double[] values(NDArray x) {
        try (NDArray d = x.toType(DataType.FLOAT64, true)) {
            return d.toDoubleArray();
        }
    }
}
