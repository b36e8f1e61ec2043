package dev.peft4j.core.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.opentest4j.AssertionFailedError;

import java.util.Arrays;

/**
 * The one numeric assertion of the project's tests: {@code |actual - expected| <= atol + rtol *
 * |expected|} element-wise (NumPy {@code allclose} semantics), reporting the worst element.
 */
public final class NdAssert {

    private NdAssert() {}

    /**
     * Asserts two arrays of the same shape are element-wise close.
     *
     * @param actual the computed array
     * @param expected the reference array
     * @param rtol relative tolerance
     * @param atol absolute tolerance
     */
    public static void assertAlmostEquals(
            NDArray actual, NDArray expected, double rtol, double atol) {
        Shape shape = actual.getShape();
        if (!shape.equals(expected.getShape())) {
            throw new AssertionFailedError(
                    "shape mismatch: actual " + shape + " vs expected " + expected.getShape());
        }
        check(toDoubles(actual), toDoubles(expected), shape.getShape(), rtol, atol);
    }

    /**
     * Asserts two float arrays of the same length are element-wise close.
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
     * Asserts two double arrays of the same length are element-wise close.
     *
     * @param actual the computed values
     * @param expected the reference values
     * @param rtol relative tolerance
     * @param atol absolute tolerance
     */
    public static void assertAlmostEquals(
            double[] actual, double[] expected, double rtol, double atol) {
        if (actual.length != expected.length) {
            throw new AssertionFailedError(
                    "length mismatch: actual " + actual.length + " vs expected " + expected.length);
        }
        check(actual, expected, new long[] {actual.length}, rtol, atol);
    }

    /**
     * Asserts two numbers are close.
     *
     * @param actual the computed value
     * @param expected the reference value
     * @param rtol relative tolerance
     * @param atol absolute tolerance
     */
    public static void assertAlmostEquals(
            double actual, double expected, double rtol, double atol) {
        check(new double[] {actual}, new double[] {expected}, new long[0], rtol, atol);
    }

    private static double[] toDoubles(NDArray x) {
        try (NDArray d = x.toType(DataType.FLOAT64, true)) {
            return d.toDoubleArray();
        }
    }

    private static void check(
            double[] actual, double[] expected, long[] shape, double rtol, double atol) {
        int worst = -1;
        double worstExcess = 0;
        int failures = 0;
        for (int i = 0; i < actual.length; i++) {
            double allowed = atol + rtol * Math.abs(expected[i]);
            double diff = Math.abs(actual[i] - expected[i]);
            boolean bad = !(diff <= allowed) && !(actual[i] == expected[i]);
            if (bad) {
                failures++;
                double excess = Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff - allowed;
                if (worst < 0 || excess > worstExcess) {
                    worst = i;
                    worstExcess = excess;
                }
            }
        }
        if (worst >= 0) {
            throw new AssertionFailedError(
                    String.format(
                            "%d of %d elements differ beyond atol %.3g + rtol %.3g * |expected|;"
                                    + " worst at index %s: actual %.9g, expected %.9g, |diff| %.3g",
                            failures,
                            actual.length,
                            atol,
                            rtol,
                            Arrays.toString(unravel(worst, shape)),
                            actual[worst],
                            expected[worst],
                            Math.abs(actual[worst] - expected[worst])));
        }
    }

    private static long[] unravel(int flat, long[] shape) {
        long[] index = new long[shape.length];
        long rest = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d] = rest % shape[d];
            rest /= shape[d];
        }
        return index;
    }
}
