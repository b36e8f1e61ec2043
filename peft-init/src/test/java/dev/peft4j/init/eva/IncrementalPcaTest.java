package dev.peft4j.init.eva;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.init.Planted;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Incremental PCA against the batch PCA of all rows at once: on data of rank at most k the
 * incremental algorithm is exact (scikit-learn's, Ross et al. 2008), so chunked and full-batch
 * results must agree.
 */
class IncrementalPcaTest extends ManagedTest {

    private static final int N = 8;
    private static final int K = 3;
    private static final double[] STD = {4, 2, 1};

    /** 40 rows {@code mean + sum_k z_k std_k p_k} in a planted 3-dim subspace, mean far from 0. */
    private double[][] data() {
        double[][] p = Planted.orthonormal(N, K, 7);
        SplittableRandom rnd = new SplittableRandom(8);
        double[][] x = new double[40][N];
        for (double[] row : x) {
            for (int k = 0; k < K; k++) {
                double z = STD[k] * Planted.gaussian(rnd);
                for (int j = 0; j < N; j++) {
                    row[j] += z * p[j][k];
                }
            }
            for (int j = 0; j < N; j++) {
                row[j] += 3 + j;
            }
        }
        return x;
    }

    @Test
    void chunkedFitEqualsTheBatchPcaOfAllRows() {
        NDArray x = Planted.create(manager, data());
        try (IncrementalPca pca = new IncrementalPca(K, 1, manager)) {
            for (int from = 0; from < 40; from += 10) {
                assertTrue(pca.partialFit(x.get(new NDIndex("{}:{}", from, from + 10))));
            }
            NDArray mean = x.mean(new int[] {0});
            NDArray centred = x.sub(mean);
            try (SvdResult ref = Linalg.svd(centred)) {
                NDArray v = ref.v().get(new NDIndex(":, :{}", K));
                assertAlmostEquals(pca.mean(), mean, 1e-5, 1e-5);
                assertAlmostEquals(
                        pca.singularValues(), ref.s().get(new NDIndex(":{}", K)), 1e-4, 1e-4);
                // the same subspace and the same axes: |<c_i, v_i>| = 1
                NDArray c = pca.components();
                assertAlmostEquals(c.matMul(v).abs(), manager.eye(K), 1e-4, 1e-4);
                double total = centred.square().sum().getFloat();
                double[] expected = new double[K];
                double[] s = ref.s().toType(DataType.FLOAT64, false).toDoubleArray();
                for (int i = 0; i < K; i++) {
                    expected[i] = s[i] * s[i] / total;
                }
                assertAlmostEquals(pca.explainedVarianceRatio(), expected, 1e-4, 1e-6);
                assertEquals(40, pca.samplesSeen());
            }
        }
    }

    /** A long stream of batches keeps the PCA's native memory flat: no array per batch stays behind. */
    @Test
    void memoryStaysFlatOverManyBatches() {
        NDArray x = Planted.create(manager, data());
        try (NDManager owner = manager.newSubManager();
                IncrementalPca pca = new IncrementalPca(K, 1, owner)) {
            for (int i = 0; i < 3; i++) {
                pca.partialFit(x);
            }
            int arrays = owner.getManagedArrays().size();
            for (int i = 0; i < 20; i++) {
                pca.partialFit(x);
            }
            assertEquals(arrays, owner.getManagedArrays().size());
        }
    }

    @Test
    void componentsHaveTheirLargestEntryPositiveAndSettleOnRepeatedData() {
        NDArray x = Planted.create(manager, data());
        try (IncrementalPca pca = new IncrementalPca(K, 1, manager)) {
            assertFalse(
                    pca.partialFit(x.get(new NDIndex(":2"))),
                    "fewer rows than components are skipped");
            assertEquals(null, pca.components());
            pca.partialFit(x);
            assertEquals(null, pca.cosines());
            pca.partialFit(x);
            for (double cos : pca.cosines()) {
                assertEquals(1, cos, 1e-5);
            }
            float[] c = pca.components().toFloatArray();
            for (int i = 0; i < K; i++) {
                float largest = 0;
                for (int j = 0; j < N; j++) {
                    largest = Math.abs(c[i * N + j]) > Math.abs(largest) ? c[i * N + j] : largest;
                }
                assertTrue(largest > 0, "component " + i);
            }
        }
    }
}
