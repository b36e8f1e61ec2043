package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;

/**
 * What a base-changing initializer keeps on a LoRA adapter: the factors right after initialization
 * ({@code A0}, {@code B0}; null when the adapter was loaded from a file) and the fingerprint of the
 * residual base weight it expects.
 */
record ResidualState(NDArray a0, NDArray b0, String fingerprint) implements AutoCloseable {

    /** Closes {@code A0} and {@code B0}. */
    @Override
    public void close() {
        if (a0 != null) {
            a0.close();
            b0.close();
        }
    }
}
