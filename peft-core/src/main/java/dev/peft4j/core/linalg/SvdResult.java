package dev.peft4j.core.linalg;

import ai.djl.ndarray.NDArray;

/**
 * Thin singular value decomposition {@code A = U diag(S) V^T}; owns its arrays.
 *
 * @param u left singular vectors {@code [m, k]}, orthonormal columns
 * @param s singular values {@code [k]}, descending, non-negative
 * @param v right singular vectors {@code [n, k]} (V, not V^T, as in {@code torch.svd_lowrank})
 */
public record SvdResult(NDArray u, NDArray s, NDArray v) implements AutoCloseable {

    /** Closes the three arrays. */
    @Override
    public void close() {
        u.close();
        s.close();
        v.close();
    }
}
