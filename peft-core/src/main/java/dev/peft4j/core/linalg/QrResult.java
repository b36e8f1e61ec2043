package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/**
 * Thin QR decomposition {@code A = Q R}; owns its arrays.
 *
 * @param q orthonormal columns {@code [m, k]}, {@code k = min(m, n)}
 * @param r upper triangular (trapezoidal when wide) {@code [k, n]} with a non-negative diagonal
 */
public record QrResult(NDArray q, NDArray r) implements AutoCloseable {

    /** Closes both arrays. */
    @Override
    public void close() {
        q.close();
        r.close();
    }
}
