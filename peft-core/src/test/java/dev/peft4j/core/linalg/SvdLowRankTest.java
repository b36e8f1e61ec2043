package dev.peft4j.core.linalg;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.NDArray;
import dev.peft4j.core.testing.ManagedTest;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * What only the randomized SVD promises: a seed fixes the result bit for bit, other seeds are
 * equally accurate, the top-q triplets of a fast-decaying spectrum are found with {@code q} below
 * the rank, and a matrix of rank at most q is recovered exactly.
 */
class SvdLowRankTest extends ManagedTest {

    @Test
    void fixedSeedIsBitwiseDeterministic() {
        NDArray a = TestMatrices.toArray(manager, TestMatrices.gaussian(51, 50, 35));
        try (SvdResult first = Linalg.svdLowRank(a, 8, 3, 99);
                SvdResult second = Linalg.svdLowRank(a, 8, 3, 99)) {
            assertArrayEquals(first.u().toFloatArray(), second.u().toFloatArray());
            assertArrayEquals(first.s().toFloatArray(), second.s().toFloatArray());
            assertArrayEquals(first.v().toFloatArray(), second.v().toFloatArray());
        }
    }

    @Test
    void differentSeedsAreEquallyAccurateOnADecayingSpectrum() {
        // rank 30, s_i = 2 * 0.4^i: with niter = 4 the residual of the 8th triplet is about s_9 *
        // 0.4^8 ~ 1e-6
        double[] s0 = TestMatrices.geometric(2, 0.4, 30);
        double[][] a = TestMatrices.planted(52, 70, 45, s0);
        NDArray input = TestMatrices.toArray(manager, a);
        float[] previousU = null;
        for (long seed : new long[] {1, 2}) {
            try (SvdResult r = Linalg.svdLowRank(input, 8, 4, seed)) {
                assertAlmostEquals(
                        TestMatrices.values(r.s()),
                        Arrays.copyOf(s0, 8),
                        Tolerances.LOW_RANK_VALUES_RTOL,
                        0);
                Checks.assertOrthonormalColumns("U", r.u());
                Checks.assertOrthonormalColumns("V", r.v());
                // A v_i = s_i u_i for each returned triplet
                double[] s = TestMatrices.values(r.s());
                double[][] av = Checks.times(a, TestMatrices.rows(r.v()));
                double[][] us = Checks.scaleColumns(TestMatrices.rows(r.u()), s);
                Checks.assertMatrixEquals(
                        "A V vs U diag(S)", av, us, Tolerances.RECONSTRUCTION * s0[0]);
                float[] u = r.u().toFloatArray();
                if (previousU != null) {
                    assertFalse(Arrays.equals(previousU, u), "two seeds gave bitwise equal U");
                }
                previousU = u;
            }
        }
    }

    @Test
    void matrixOfRankAtMostQIsRecoveredExactly() {
        double[] s0 = {9, 4, 2.5, 1, 0.25};
        double[][] a = TestMatrices.planted(53, 33, 48, s0);
        double[] expected = Arrays.copyOf(s0, 8);
        for (int niter : new int[] {0, 2}) {
            try (SvdResult r = Linalg.svdLowRank(TestMatrices.toArray(manager, a), 8, niter, 5)) {
                double[] s = TestMatrices.values(r.s());
                assertAlmostEquals(
                        s, expected, Tolerances.VALUES_RTOL, Tolerances.VALUES_ATOL * s0[0]);
                Checks.assertOrthonormalColumns("U", r.u());
                Checks.assertOrthonormalColumns("V", r.v());
                Checks.assertSvdReconstructs(a, r, Tolerances.RECONSTRUCTION * s0[0]);
            }
        }
    }
}
