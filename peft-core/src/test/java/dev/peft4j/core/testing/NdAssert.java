package dev.peft4j.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** The one numeric assertion of the project's tests: {@code |a - e| <= atol + rtol * |e|} everywhere. */
public final class NdAssert {

    private NdAssert() {}

    /**
     * Asserts that two arrays have the same shape and agree elementwise within tolerance.
     *
     * @param actual the computed array
     * @param expected the reference array
     * @param rtol relative tolerance
     * @param atol absolute tolerance
     */
    public static void assertAlmostEquals(
            NDArray actual, NDArray expected, double rtol, double atol) {
        assertEquals(expected.getShape(), actual.getShape(), "shape");
        assertAlmostEquals(toDoubles(actual), toDoubles(expected), rtol, atol);
    }

    /**
     * Asserts that two float arrays have the same length and agree elementwise within tolerance.
     *
     * @param actual the computed values
     * @param expected the reference values
     * @param rtol relative tolerance
     * @param atol absolute tolerance
     */
    public static void assertAlmostEquals(
            float[] actual, float[] expected, double rtol, double atol) {
        double[] a = new double[actual.length];
        double[] e = new double[expected.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = actual[i];
        }
        for (int i = 0; i < e.length; i++) {
            e[i] = expected[i];
        }
        assertAlmostEquals(a, e, rtol, atol);
    }

    /**
     * Asserts that two double arrays have the same length and agree elementwise within tolerance;
     * the message names the worst element.
     *
     * @param actual the computed values
     * @param expected the reference values
     * @param rtol relative tolerance
     * @param atol absolute tolerance
     */
    public static void assertAlmostEquals(
            double[] actual, double[] expected, double rtol, double atol) {
        assertEquals(expected.length, actual.length, "length");
        int failures = 0;
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < actual.length; i++) {
            double allowed = atol + rtol * Math.abs(expected[i]);
            double diff = Math.abs(actual[i] - expected[i]);
            // NaN compares false: a NaN on either side is a failure
            if (!(diff <= allowed)) {
                failures++;
                double excess = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff - allowed;
                if (worst < 0 || excess > worstExcess) {
                    worst = i;
                    worstExcess = excess;
                }
            }
        }
        if (failures > 0) {
            fail(
                    String.format(
                            "%d of %d elements differ (rtol %g, atol %g); worst at flat index %d:"
                                    + " actual %s, expected %s",
                            failures,
                            actual.length,
                            rtol,
                            atol,
                            worst,
                            actual[worst],
                            expected[worst]));
        }
    }

    private static double[] toDoubles(NDArray array) {
        return array.toType(DataType.FLOAT64, false).toDoubleArray();
    }
}
