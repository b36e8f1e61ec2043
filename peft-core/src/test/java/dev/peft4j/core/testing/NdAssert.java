package dev.peft4j.core.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Numeric assertions on NDArrays, the one place tolerances are applied. */
public final class NdAssert {

    private NdAssert() {}

    /**
     * Asserts equal shapes and {@code |actual - expected| <= atol + rtol * |expected|} element-wise
     * (NaN matches NaN, infinities must match exactly); the message names the first mismatch.
     */
    public static void assertAlmostEquals(NDArray actual, NDArray expected, double rtol, double atol) {
        assertEquals(expected.getShape(), actual.getShape(), "shape");
        assertAlmostEquals(toDoubles(actual), toDoubles(expected), rtol, atol);
    }

    /** Element-wise version of {@link #assertAlmostEquals(NDArray, NDArray, double, double)} for Java arrays. */
    public static void assertAlmostEquals(double[] actual, double[] expected, double rtol, double atol) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            double a = actual[i];
            double e = expected[i];
            boolean ok = Double.isNaN(e) ? Double.isNaN(a)
                    : Double.isInfinite(e) ? a == e
                    : Math.abs(a - e) <= atol + rtol * Math.abs(e);
            if (!ok) {
                fail("element " + i + ": actual " + a + ", expected " + e + " (rtol " + rtol + ", atol " + atol + ")");
            }
        }
    }

    private static double[] toDoubles(NDArray array) {
        try (NDArray d = array.toType(DataType.FLOAT64, true)) {
            return d.toDoubleArray();
        }
    }
}
