package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;

/**
 * Invariants shared by the decomposition contracts, checked in Java double on copies of the
 * results (independent of the device code under test).
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

    /** {@code left diag(values) right^T = a}, within the reconstruction budget times {@code scale}. */
    static void assertReconstructs(
            double[][] a, NDArray left, double[] values, NDArray right, double scale) {
        double[][] l = TestMatrices.rows(left);
        double[][] r = TestMatrices.rows(right);
        double[] product = new double[a.length * a[0].length];
        double[] expected = new double[product.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                double sum = 0;
                for (int t = 0; t < values.length; t++) {
                    sum += l[i][t] * values[t] * r[j][t];
                }
                product[i * a[0].length + j] = sum;
                expected[i * a[0].length + j] = a[i][j];
            }
        }
        assertAlmostEquals(product, expected, 0, Tolerances.RECONSTRUCTION * scale);
    }

    /** Values are non-increasing (and non-negative when {@code nonNegative}). */
    static void assertDescending(double[] values, boolean nonNegative) {
        for (int i = 1; i < values.length; i++) {
            assertTrue(values[i] <= values[i - 1], "not descending at " + i + ": " + values[i - 1] + ", " + values[i]);
        }
        if (nonNegative) {
            for (double v : values) {
                assertTrue(v >= 0, "negative value " + v);
            }
        }
    }

    /** The documented sign rule: each column's largest-magnitude entry (first on ties) is positive. */
    static void assertLargestEntriesPositive(NDArray f) {
        double[][] x = TestMatrices.rows(f);
        for (int j = 0; j < x[0].length; j++) {
            int best = 0;
            for (int i = 1; i < x.length; i++) {
                if (Math.abs(x[i][j]) > Math.abs(x[best][j])) {
                    best = i;
                }
            }
            assertTrue(x[best][j] > 0, "column " + j + " has its largest entry negative: " + x[best][j]);
        }
    }

    /** Exact shape check. */
    static void assertShape(NDArray x, long... shape) {
        assertEquals(new ai.djl.ndarray.types.Shape(shape), x.getShape());
    }
}
