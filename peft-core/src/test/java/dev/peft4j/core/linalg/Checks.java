package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Invariants shared by the decomposition contracts, checked in Java double on copies of the results
 * (independent of the device code under test).
 */
final class Checks {

    private Checks() {}

    /** {@code F^T F = I} for a factor {@code F [rows, k]}. */
    static void assertOrthonormalColumns(String name, NDArray f) {
        double[][] x = TestMatrices.rows(f);
        int k = x[0].length;
        double[] gram = new double[k * k];
        double[] identity = new double[k * k];
        for (int i = 0; i < k; i++) {
            identity[i * k + i] = 1;
            for (int j = 0; j < k; j++) {
                double sum = 0;
                for (double[] row : x) {
                    sum += row[i] * row[j];
                }
                gram[i * k + j] = sum;
            }
        }
        try {
            assertAlmostEquals(gram, identity, 0, Tolerances.ORTHONORMALITY);
        } catch (AssertionError e) {
            throw new AssertionError(name + "^T " + name + " != I: " + e.getMessage(), e);
        }
    }

    /**
     * {@code U diag(S) V^T = a} within {@code atol}, computed in double from the result's copies.
     */
    static void assertSvdReconstructs(double[][] a, SvdResult r, double atol) {
        double[][] usvt =
                times(
                        scaleColumns(TestMatrices.rows(r.u()), TestMatrices.values(r.s())),
                        transpose(TestMatrices.rows(r.v())));
        assertMatrixEquals("U diag(S) V^T vs A", usvt, a, atol);
    }

    /** {@code actual = expected} entry-wise within {@code atol}. */
    static void assertMatrixEquals(
            String what, double[][] actual, double[][] expected, double atol) {
        try {
            assertAlmostEquals(flatten(actual), flatten(expected), 0, atol);
        } catch (AssertionError e) {
            throw new AssertionError(what + ": " + e.getMessage(), e);
        }
    }

    /** {@code x y} in double. */
    static double[][] times(double[][] x, double[][] y) {
        double[][] p = new double[x.length][y[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int t = 0; t < y.length; t++) {
                for (int j = 0; j < y[0].length; j++) {
                    p[i][j] += x[i][t] * y[t][j];
                }
            }
        }
        return p;
    }

    /** {@code x diag(s)}. */
    static double[][] scaleColumns(double[][] x, double[] s) {
        double[][] y = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i].clone();
            for (int j = 0; j < s.length; j++) {
                y[i][j] *= s[j];
            }
        }
        return y;
    }

    /** {@code x^T}. */
    static double[][] transpose(double[][] x) {
        double[][] t = new double[x[0].length][x.length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                t[j][i] = x[i][j];
            }
        }
        return t;
    }

    private static double[] flatten(double[][] x) {
        double[] flat = new double[x.length * x[0].length];
        for (int i = 0; i < x.length; i++) {
            System.arraycopy(x[i], 0, flat, i * x[0].length, x[0].length);
        }
        return flat;
    }

    /** Values are non-increasing (and non-negative when {@code nonNegative}). */
    static void assertDescending(double[] values, boolean nonNegative) {
        for (int i = 1; i < values.length; i++) {
            assertTrue(
                    values[i] <= values[i - 1],
                    "not descending at " + i + ": " + values[i - 1] + ", " + values[i]);
        }
        if (nonNegative) {
            for (double v : values) {
                assertTrue(v >= 0, "negative value " + v);
            }
        }
    }

    /**
     * The documented sign rule: each column's largest-magnitude entry (first on ties) is positive.
     */
    static void assertLargestEntriesPositive(NDArray f) {
        double[][] x = TestMatrices.rows(f);
        for (int j = 0; j < x[0].length; j++) {
            int best = 0;
            for (int i = 1; i < x.length; i++) {
                if (Math.abs(x[i][j]) > Math.abs(x[best][j])) {
                    best = i;
                }
            }
            assertTrue(
                    x[best][j] > 0,
                    "column " + j + " has its largest entry negative: " + x[best][j]);
        }
    }

    /** Exact shape check. */
    static void assertShape(NDArray x, long... shape) {
        assertEquals(new Shape(shape), x.getShape());
    }
}
