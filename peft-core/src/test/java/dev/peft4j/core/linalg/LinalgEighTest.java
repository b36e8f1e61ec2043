package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/** {@link Linalg#eigh} against the eigendecomposition contract. */
class LinalgEighTest extends EighContractTest {

    @Override
    protected EighResult decompose(NDArray symmetric) {
        return Linalg.eigh(symmetric);
    }
}
