package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/**
 * Symmetric eigendecomposition {@code A = V diag(w) V^T}; owns its arrays.
 *
 * @param values eigenvalues {@code w [k]}, descending
 * @param vectors orthonormal eigenvectors as the columns of {@code V [k, k]}
 */
public record EighResult(NDArray values, NDArray vectors) implements AutoCloseable {

    /** Closes both arrays. */
    @Override
    public void close() {
        values.close();
        vectors.close();
    }
}
