package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.testing.ManagedTest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Ownership, data types and input validation of the {@link Linalg} facade. */
class LinalgApiTest extends ManagedTest {

    @Test
    void resultsGoToTheInputManagerAndTemporariesAreClosed() {
        NDArray a = TestMatrices.toArray(manager, TestMatrices.gaussian(61, 30, 20));
        int before = manager.getManagedArrays().size();
        try (SvdResult r = Linalg.svd(a)) {
            assertSame(manager, r.u().getManager());
            assertEquals(before + 3, manager.getManagedArrays().size());
        }
        try (SvdResult r = Linalg.svdLowRank(a, 5, 3, 1)) {
            assertSame(manager, r.v().getManager());
            assertEquals(before + 3, manager.getManagedArrays().size());
        }
        try (QrResult r = Linalg.qr(a)) {
            assertSame(manager, r.r().getManager());
            assertEquals(before + 2, manager.getManagedArrays().size());
        }
        NDArray sym;
        try (NDArray at = a.transpose()) {
            sym = at.matMul(a);
        }
        try (EighResult r = Linalg.eigh(sym)) {
            assertSame(manager, r.vectors().getManager());
            assertEquals(before + 3, manager.getManagedArrays().size());
        }
        sym.close();
        assertEquals(before, manager.getManagedArrays().size());
        assertSame(manager, a.getManager());
    }

    @Test
    void resultsGoToAnExplicitManagerAndOutliveTheInputs() {
        SvdResult r;
        double[][] a = TestMatrices.gaussian(62, 12, 9);
        try (NDManager results = NDManager.newBaseManager()) {
            try (NDManager inputs = NDManager.newBaseManager()) {
                r = Linalg.svd(TestMatrices.toArray(inputs, a), results);
            }
            assertSame(results, r.s().getManager());
            // s_1 of a 12 x 9 Gaussian is below 10
            Checks.assertSvdReconstructs(a, r, Tolerances.RECONSTRUCTION * 10);
        }
    }

    @Test
    void float64InputGivesFloat64AndFloat16GivesFloat32() {
        double[][] a = TestMatrices.gaussian(63, 10, 6);
        try (SvdResult r = Linalg.svd(TestMatrices.toArray(manager, a, DataType.FLOAT64));
                QrResult q = Linalg.qr(TestMatrices.toArray(manager, a, DataType.FLOAT16))) {
            assertEquals(DataType.FLOAT64, r.u().getDataType());
            assertEquals(DataType.FLOAT64, r.s().getDataType());
            assertEquals(DataType.FLOAT32, q.q().getDataType());
            assertEquals(DataType.FLOAT32, q.r().getDataType());
        }
    }

    @Test
    void float64PathAgreesWithFloat32Path() {
        double[][] a = TestMatrices.planted(64, 16, 11, TestMatrices.geometric(5, 0.6, 11));
        try (SvdResult r64 = Linalg.svd(TestMatrices.toArray(manager, a, DataType.FLOAT64));
                SvdResult r32 = Linalg.svd(TestMatrices.toArray(manager, a))) {
            assertAlmostEquals(
                    TestMatrices.values(r64.s()),
                    TestMatrices.values(r32.s()),
                    0,
                    Tolerances.VALUES_ATOL * 5);
        }
    }

    @Test
    void badInputsAreRejectedWithTheirShapeOrReason() {
        NDArray vector = manager.ones(new Shape(4));
        assertMessage(() -> Linalg.svd(vector), "2-D");
        NDArray empty = manager.zeros(new Shape(0, 3));
        assertMessage(() -> Linalg.qr(empty), "non-empty");
        NDArray ints = manager.ones(new Shape(3, 3), DataType.INT32);
        assertMessage(() -> Linalg.svd(ints), "floating-point");
        NDArray nan = manager.create(new float[] {1, Float.NaN, 0, 1}, new Shape(2, 2));
        assertMessage(() -> Linalg.svdLowRank(nan, 1, 1, 0), "NaN or infinity");
        NDArray inf =
                manager.create(new float[] {1, Float.POSITIVE_INFINITY, 0, 1}, new Shape(2, 2));
        assertMessage(() -> Linalg.eigh(inf), "NaN or infinity");
        NDArray rect = manager.ones(new Shape(2, 3));
        assertMessage(() -> Linalg.eigh(rect), "square");
        NDArray asym = manager.create(new float[] {1, 2, 0, 1}, new Shape(2, 2));
        assertMessage(() -> Linalg.eigh(asym), "symmetric");
        NDArray a = manager.ones(new Shape(5, 3));
        assertMessage(() -> Linalg.svdLowRank(a, 4, 1, 0), "q must be in [1, min(m, n)] = [1, 3]");
        assertMessage(() -> Linalg.svdLowRank(a, 0, 1, 0), "got q = 0");
        assertMessage(() -> Linalg.svdLowRank(a, 2, -1, 0), "niter");
    }

    @Test
    void hugeFiniteValuesAreNotMistakenForInfinity() {
        // the float32 sum overflows, the entries do not: the detailed check must accept them
        float[] big = new float[16];
        Arrays.fill(big, 3e38f);
        big[3] = -1e38f;
        try (QrResult q = Linalg.qr(manager.create(big, new Shape(4, 4)))) {
            Checks.assertOrthonormalColumns("Q", q.q());
            assertFalse(Float.isNaN(q.r().toFloatArray()[0]));
        }
    }

    private static void assertMessage(Runnable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(
                e.getMessage().contains(fragment),
                "message '" + e.getMessage() + "' does not mention '" + fragment + "'");
    }
}
