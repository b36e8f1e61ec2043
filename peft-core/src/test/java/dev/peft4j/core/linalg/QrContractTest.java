package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.testing.ManagedTest;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.junit.jupiter.api.Test;

/**
 * The contract of a thin QR: {@code Q R = A}, Q with orthonormal columns, R upper triangular with a
 * non-negative diagonal (hence equal to Commons Math's Householder R up to row signs on full column
 * rank), on tall, wide, square, rank-deficient, zero, tiny, one-row and one-column input.
 */
abstract class QrContractTest extends ManagedTest {

    /**
     * The implementation under test.
     *
     * @param a float32 matrix {@code [m, n]}
     * @return its thin QR
     */
    protected abstract QrResult decompose(NDArray a);

    @Test
    void tallGaussianMatchesCommonsMathUpToRowSigns() {
        double[][] a = TestMatrices.gaussian(31, 40, 12);
        double[][] r = check(a);
        RealMatrix reference = new QRDecomposition(new Array2DRowRealMatrix(a)).getR();
        double[] ours = new double[12 * 12];
        double[] theirs = new double[12 * 12];
        for (int i = 0; i < 12; i++) {
            double sign = Math.signum(reference.getEntry(i, i));
            for (int j = 0; j < 12; j++) {
                ours[i * 12 + j] = r[i][j];
                theirs[i * 12 + j] = sign * reference.getEntry(i, j);
            }
        }
        assertAlmostEquals(ours, theirs, 0, Tolerances.RECONSTRUCTION * maxAbs(a) * 12);
    }

    @Test
    void wideKeepsTrapezoidalR() {
        check(TestMatrices.gaussian(32, 9, 25));
    }

    @Test
    void squareIllConditioned() {
        check(TestMatrices.planted(33, 20, 20, TestMatrices.geometric(1, 0.4, 20)));
    }

    @Test
    void rankDeficientColumnsStillGiveOrthonormalQ() {
        double[][] a = TestMatrices.planted(34, 30, 16, new double[] {4, 2, 1});
        // an exactly repeated column and an exactly zero column on top of rank 3
        for (double[] row : a) {
            row[5] = row[1];
            row[9] = 0;
        }
        check(a);
    }

    @Test
    void zeroMatrixGivesOrthonormalQAndZeroR() {
        double[][] r = check(new double[6][4]);
        for (double[] row : r) {
            for (double x : row) {
                assertEquals(0.0, x);
            }
        }
    }

    @Test
    void tinyValues() {
        double[][] a = TestMatrices.gaussian(35, 14, 6);
        for (double[] row : a) {
            for (int j = 0; j < row.length; j++) {
                row[j] *= 1e-20;
            }
        }
        check(a);
    }

    @Test
    void singleRow() {
        check(TestMatrices.gaussian(36, 1, 7));
    }

    @Test
    void singleColumn() {
        check(TestMatrices.gaussian(37, 7, 1));
    }

    private static double maxAbs(double[][] a) {
        double max = 0;
        for (double[] row : a) {
            for (double x : row) {
                max = Math.max(max, Math.abs(x));
            }
        }
        return max;
    }

    /** Runs the implementation and checks the contract; returns R. */
    private double[][] check(double[][] a) {
        int m = a.length;
        int n = a[0].length;
        int k = Math.min(m, n);
        try (QrResult qr = decompose(TestMatrices.toArray(manager, a))) {
            Checks.assertShape(qr.q(), m, k);
            Checks.assertShape(qr.r(), k, n);
            assertEquals(DataType.FLOAT32, qr.q().getDataType());
            Checks.assertOrthonormalColumns("Q", qr.q());
            double[][] r = TestMatrices.rows(qr.r());
            for (int i = 0; i < k; i++) {
                assertTrue(r[i][i] >= 0, "R[" + i + "][" + i + "] = " + r[i][i] + " is negative");
                for (int j = 0; j < i; j++) {
                    assertEquals(0.0, r[i][j], "R[" + i + "][" + j + "] below the diagonal");
                }
            }
            double[][] product = Checks.times(TestMatrices.rows(qr.q()), r);
            Checks.assertMatrixEquals(
                    "Q R vs A", product, a, Tolerances.RECONSTRUCTION * maxAbs(a) * k);
            return r;
        }
    }
}
