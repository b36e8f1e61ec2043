package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.testing.ManagedTest;
import java.util.Arrays;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.Test;

/**
 * The contract every thin-SVD implementation keeps: {@code U diag(S) V^T = A}, orthonormal U and V,
 * S descending and equal to a planted or independently computed spectrum, the sign rule, and the
 * edge shapes (tall, wide, square, rank deficient, zero, tiny values, one row, one column).
 */
abstract class SvdContractTest extends ManagedTest {

    /**
     * The implementation under test.
     *
     * @param a float32 matrix {@code [m, n]}
     * @return its thin SVD with {@code k = min(m, n)} triplets
     */
    protected abstract SvdResult decompose(NDArray a);

    @Test
    void tallPlantedSpectrumIsRecovered() {
        double[] s0 = TestMatrices.geometric(10, 0.7, 25);
        check(TestMatrices.planted(11, 60, 25, s0), s0);
    }

    @Test
    void widePlantedSpectrumIsRecovered() {
        double[] s0 = TestMatrices.geometric(3, 0.8, 20);
        check(TestMatrices.planted(12, 20, 64, s0), s0);
    }

    @Test
    void squareGaussianMatchesCommonsMath() {
        double[][] a = TestMatrices.gaussian(13, 30, 30);
        double[] reference =
                new SingularValueDecomposition(new Array2DRowRealMatrix(a)).getSingularValues();
        check(a, reference);
    }

    @Test
    void rankDeficientHasZeroTailAndOrthonormalFactors() {
        double[] s0 = {5, 3, 2, 1, 0.5};
        double[] expected = Arrays.copyOf(s0, 30);
        check(TestMatrices.planted(14, 40, 30, s0), expected);
    }

    @Test
    void rankOneOfOrder200Converges() {
        // regression: the Gram's noise-level tail once stalled the QL iteration from order ~200 on
        double[] expected = new double[200];
        expected[0] = 7;
        check(TestMatrices.planted(18, 230, 200, new double[] {7}), expected);
    }

    @Test
    void zeroMatrixGivesZeroValuesAndOrthonormalFactors() {
        check(new double[7][5], new double[5]);
    }

    @Test
    void tinyValuesKeepTheirRelativeAccuracy() {
        double[] s0 = TestMatrices.geometric(4e-20, 0.75, 12);
        check(TestMatrices.planted(15, 18, 12, s0), s0);
    }

    @Test
    void singleRowIsItsOwnNormTimesDirection() {
        double[][] a = TestMatrices.gaussian(16, 1, 9);
        check(a, new double[] {norm(a[0])});
    }

    @Test
    void singleColumnIsItsOwnNormTimesDirection() {
        double[][] column = TestMatrices.gaussian(17, 9, 1);
        double[] values = new double[9];
        for (int i = 0; i < 9; i++) {
            values[i] = column[i][0];
        }
        check(column, new double[] {norm(values)});
    }

    private static double norm(double[] x) {
        double sum = 0;
        for (double v : x) {
            sum += v * v;
        }
        return Math.sqrt(sum);
    }

    /** Runs the implementation on A (as float32) and checks the whole contract. */
    private void check(double[][] a, double[] expectedValues) {
        int m = a.length;
        int n = a[0].length;
        int k = Math.min(m, n);
        NDArray input = TestMatrices.toArray(manager, a);
        try (SvdResult r = decompose(input)) {
            Checks.assertShape(r.u(), m, k);
            Checks.assertShape(r.s(), k);
            Checks.assertShape(r.v(), n, k);
            assertEquals(DataType.FLOAT32, r.u().getDataType());
            double[] s = TestMatrices.values(r.s());
            double s1 = expectedValues[0];
            Checks.assertDescending(s, true);
            assertAlmostEquals(
                    s, expectedValues, Tolerances.VALUES_RTOL, Tolerances.VALUES_ATOL * s1);
            Checks.assertOrthonormalColumns("U", r.u());
            Checks.assertOrthonormalColumns("V", r.v());
            Checks.assertSvdReconstructs(a, r, Tolerances.RECONSTRUCTION * s1);
            Checks.assertLargestEntriesPositive(r.u());
        }
    }
}
