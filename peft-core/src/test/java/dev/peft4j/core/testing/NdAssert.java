package dev.peft4j.core.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** The one numeric comparison of the test suites: {@code |a - e| <= atol + rtol * |e|}. */
public final class NdAssert {

    private NdAssert() {}

    /** Asserts that two arrays have the same shape and are element-wise close. */
    public static void assertAlmostEquals(
            NDArray actual, NDArray expected, double rtol, double atol) {
        assertArrayEquals(expected.getShape().getShape(), actual.getShape().getShape(), "shape");
        assertAlmostEquals(toDoubles(actual), toDoubles(expected), rtol, atol);
    }

    /** Asserts that two float arrays have the same length and are element-wise close. */
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

    /** Asserts that two double arrays have the same length and are element-wise close. */
    public static void assertAlmostEquals(
            double[] actual, double[] expected, double rtol, double atol) {
        if (actual.length != expected.length) {
            fail("length " + actual.length + " != expected " + expected.length);
        }
        int bad = 0;
        int first = -1;
        double worst = 0;
        for (int i = 0; i < actual.length; i++) {
            double allowed = atol + rtol * Math.abs(expected[i]);
            double excess = Math.abs(actual[i] - expected[i]) - allowed;
            if (!(excess <= 0)) { // also catches NaN
                bad++;
                first = first < 0 ? i : first;
                worst = Math.max(worst, Double.isNaN(excess) ? Double.POSITIVE_INFINITY : excess);
            }
        }
        if (bad > 0) {
            fail(String.format("%d of %d elements differ beyond rtol=%g atol=%g; first at %d: "
                            + "actual %s, expected %s; worst excess %g",
                    bad, actual.length, rtol, atol, first, actual[first], expected[first], worst));
        }
    }

    private static double[] toDoubles(NDArray array) {
        try (NDArray copy = array.toType(DataType.FLOAT64, true)) {
            return copy.toDoubleArray();
        }
    }
}
