package dev.peft4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Tensor-by-number operations that are safe inside an autograd graph.
 *
 * <p>DJL's PyTorch engine computes {@code x.mul(Number)} (and {@code div}, {@code pow}, {@code
 * maximum}, {@code minimum}) by wrapping the number in a 0-dim tensor that views a Java direct
 * buffer, and closes that tensor when the call returns. When {@code x} is part of an autograd graph,
 * PyTorch keeps the 0-dim tensor for the backward pass ({@code d(x s)/dx = s}), but its memory
 * belongs to the buffer, which the JVM's garbage collector may free at any time after the close:
 * backward then reads freed memory, so gradients depend on GC timing, and now and then are NaN
 * (this was the cause of the intermittent NaN and of the run-to-run differences in training). The
 * methods here make the scalar in memory the engine allocates itself, which autograd's reference
 * keeps alive for as long as it needs it; the result is the same as {@code x.mul(value)}. Use them
 * in every forward and loss computation; {@code add} and {@code sub} of a number are safe (their
 * backward does not read the number).
 */
public final class Scalars {

    private Scalars() {}

    /**
     * A 0-dim array holding {@code value} in {@code like}'s data type and device, in engine-owned
     * memory, attached to {@code like}'s manager.
     */
    public static NDArray of(NDArray like, double value) {
        return like.getManager()
                .zeros(new Shape(), like.getDataType(), like.getDevice())
                .addi(value); // the in-place add reads the number at once: no buffer outlives it
    }

    /** {@code x * value}. */
    public static NDArray mul(NDArray x, double value) {
        try (NDArray s = of(x, value)) {
            return x.mul(s);
        }
    }

    /** {@code x / value}. */
    public static NDArray div(NDArray x, double value) {
        try (NDArray s = of(x, value)) {
            return x.div(s);
        }
    }

    /** {@code x ^ value}. */
    public static NDArray pow(NDArray x, double value) {
        try (NDArray s = of(x, value)) {
            return x.pow(s);
        }
    }
}
