package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/**
 * {@link Linalg#svdLowRank} with {@code q = min(m, n)} and many subspace iterations: the loop must
 * stay orthonormal and accurate, also where every iteration completes a rank-deficient basis.
 */
class RandomizedSvdManyIterationsTest extends SvdContractTest {

    private static final int MANY_ITERATIONS = 10;

    @Override
    protected SvdResult decompose(NDArray a) {
        int q = (int) Math.min(a.getShape().get(0), a.getShape().get(1));
        return Linalg.svdLowRank(a, q, MANY_ITERATIONS, 7L);
    }
}
