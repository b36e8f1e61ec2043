package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.testing.ManagedTest;
import java.util.Arrays;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.EigenDecomposition;
import org.junit.jupiter.api.Test;

/**
 * The contract of a symmetric eigendecomposition: {@code A V = V diag(w)}, orthonormal V, w
 * descending and equal to Commons Math's or planted eigenvalues, the sign rule, on random,
 * repeated-eigenvalue, indefinite, zero, tiny and 1 x 1 matrices.
 */
abstract class EighContractTest extends ManagedTest {

    /**
     * The implementation under test.
     *
     * @param symmetric float32 symmetric matrix {@code [k, k]}
     * @return its eigendecomposition
     */
    protected abstract EighResult decompose(NDArray symmetric);

    @Test
    void randomSymmetricMatchesCommonsMath() {
        double[][] g = TestMatrices.gaussian(41, 24, 24);
        double[][] a = new double[24][24];
        for (int i = 0; i < 24; i++) {
            for (int j = 0; j < 24; j++) {
                a[i][j] = g[i][j] + g[j][i];
            }
        }
        double[] reference =
                new EigenDecomposition(new Array2DRowRealMatrix(a)).getRealEigenvalues();
        check(a, reference);
    }

    @Test
    void repeatedEigenvaluesGetAnOrthonormalEigenbasis() {
        double[] w = {3, 3, 3, -1, -1, 0, 0, 0, 0, -2};
        check(planted(42, w), w);
    }

    @Test
    void zeroMatrix() {
        check(new double[5][5], new double[5]);
    }

    @Test
    void tinyValues() {
        double[] w = TestMatrices.geometric(1e-20, -0.6, 8);
        check(planted(43, w), w);
    }

    @Test
    void oneByOne() {
        check(new double[][] {{-2.5}}, new double[] {-2.5});
    }

    /** {@code Q diag(w) Q^T} with Q from Commons Math QR. */
    private static double[][] planted(long seed, double[] w) {
        double[][] q = TestMatrices.orthonormal(seed, w.length, w.length);
        return TestMatrices.planted(q, w, q);
    }

    private void check(double[][] a, double[] expectedUnsorted) {
        int k = a.length;
        double[] expected = expectedUnsorted.clone();
        Arrays.sort(expected);
        for (int i = 0; i < k / 2; i++) {
            double t = expected[i];
            expected[i] = expected[k - 1 - i];
            expected[k - 1 - i] = t;
        }
        double scale = Math.max(Math.abs(expected[0]), Math.abs(expected[k - 1]));
        try (EighResult e = decompose(TestMatrices.toArray(manager, a))) {
            Checks.assertShape(e.values(), k);
            Checks.assertShape(e.vectors(), k, k);
            assertEquals(DataType.FLOAT32, e.vectors().getDataType());
            double[] w = TestMatrices.values(e.values());
            Checks.assertDescending(w, false);
            assertAlmostEquals(w, expected, Tolerances.VALUES_RTOL, Tolerances.VALUES_ATOL * scale);
            Checks.assertOrthonormalColumns("V", e.vectors());
            Checks.assertLargestEntriesPositive(e.vectors());
            double[][] v = TestMatrices.rows(e.vectors());
            Checks.assertMatrixEquals(
                    "A V vs V diag(w)",
                    Checks.times(a, v),
                    Checks.scaleColumns(v, w),
                    Tolerances.EIGEN_RESIDUAL * scale);
        }
    }
}
