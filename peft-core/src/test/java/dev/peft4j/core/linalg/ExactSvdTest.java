package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/** {@link Linalg#svd} against the SVD contract. */
class ExactSvdTest extends SvdContractTest {

    @Override
    protected SvdResult decompose(NDArray a) {
        return Linalg.svd(a);
    }
}
