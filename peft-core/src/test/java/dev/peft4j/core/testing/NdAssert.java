package dev.peft4j.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * The one numeric assertion of the test suites: {@code |a - e| <= atol + rtol * |e|} element-wise;
 * equal infinities and NaN against NaN count as equal.
 */
public final class NdAssert {

    private NdAssert() {}

    /** Compares two arrays of the same shape; the failure names the worst element. */
    public static void assertAlmostEquals(
            NDArray actual, NDArray expected, double rtol, double atol) {
        assertEquals(expected.getShape(), actual.getShape(), "shape");
        assertAlmostEquals(toDoubles(actual), toDoubles(expected), rtol, atol);
    }

    /** Compares two float arrays element-wise. */
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

    /** Compares two double arrays element-wise. */
    public static void assertAlmostEquals(
            double[] actual, double[] expected, double rtol, double atol) {
        assertEquals(expected.length, actual.length, "length");
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < actual.length; i++) {
            if (actual[i] == expected[i] || Double.isNaN(actual[i]) && Double.isNaN(expected[i])) {
                continue; // equal infinities and NaN against NaN match
            }
            double err = Math.abs(actual[i] - expected[i]);
            double excess = err - (atol + rtol * Math.abs(expected[i]));
            if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
                worst = i;
                worstExcess = excess;
            }
        }
        if (worst >= 0) {
            fail(
                    String.format(
                            "element %d: actual %.9g, expected %.9g (rtol %.1e, atol %.1e, %d"
                                    + " elements)",
                            worst, actual[worst], expected[worst], rtol, atol, actual.length));
        }
    }

    /** Compares two scalars. */
    public static void assertAlmostEquals(
            double actual, double expected, double rtol, double atol) {
        assertAlmostEquals(new double[] {actual}, new double[] {expected}, rtol, atol);
    }

    /** The values of an array as doubles (any numeric type). */
    public static double[] toDoubles(NDArray a) {
        NDArray f = a.getDataType() == DataType.FLOAT64 ? a : a.toType(DataType.FLOAT64, false);
        return f.toDoubleArray();
    }
}
