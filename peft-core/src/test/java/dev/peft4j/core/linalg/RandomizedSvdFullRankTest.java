package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/** {@link Linalg#svdLowRank} with {@code q = min(m, n)} and torch's default 2 iterations. */
class RandomizedSvdFullRankTest extends SvdContractTest {

    @Override
    protected SvdResult decompose(NDArray a) {
        int q = (int) Math.min(a.getShape().get(0), a.getShape().get(1));
        return Linalg.svdLowRank(a, q, 2, 20240601L);
    }
}
