package dev.peft4j.adapters;

import ai.djl.ndarray.NDArray;
import dev.peft4j.core.testing.NdAssert;


/** Plain-Java dense references for the method tests: matrices as {@code double[rows][cols]}. */
public final class DenseRef {

    private DenseRef() {}

    /** A 2-D array's values as a matrix. */
    public static double[][] matrix(NDArray a) {
        int rows = Math.toIntExact(a.getShape().get(0));
        int cols = Math.toIntExact(a.getShape().get(1));
        double[] flat = NdAssert.toDoubles(a);
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            System.arraycopy(flat, i * cols, m[i], 0, cols);
        }
        return m;
    }

    /** {@code a b}. */
    public static double[][] matMul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                for (int j = 0; j < b[0].length; j++) {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return c;
    }

    /** {@code a^T}. */
    public static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    /** {@code a + s b}. */
    public static double[][] addScaled(double[][] a, double s, double[][] b) {
        double[][] c = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                c[i][j] = a[i][j] + s * b[i][j];
            }
        }
        return c;
    }

    /** Sum of absolute values (element-wise L1). */
    public static double l1(double[][] a) {
        double s = 0;
        for (double[] row : a) {
            for (double v : row) {
                s += Math.abs(v);
            }
        }
        return s;
    }

    /** Row-major flattening. */
    public static double[] flat(double[][] a) {
        double[] f = new double[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, f, i * a[0].length, a[0].length);
        }
        return f;
    }
}
