package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;

/**
 * What a base-changing initializer keeps on a LoRA adapter: the factors right after initialization
 * ({@code A0}, {@code B0}; null when unknown, for a layer loaded onto a residual base), the
 * fingerprints of the residual and of the original base weight (null when unknown), the seed of a
 * randomized decomposition (null when none), and whether the layer was loaded from a folder that
 * expects the residual base although its initializer is redone at load elsewhere (written by
 * peft4j before it redid PiSSA at load).
 */
record ResidualState(
        NDArray a0, NDArray b0, String fingerprint, String original, Long seed, boolean legacy)
        implements AutoCloseable {

    /** Closes {@code A0} and {@code B0}. */
    @Override
    public void close() {
        if (a0 != null) {
            a0.close();
            b0.close();
        }
    }
}
