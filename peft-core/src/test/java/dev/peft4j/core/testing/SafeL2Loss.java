package dev.peft4j.core.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.Scalars;

/**
 * DJL's {@code L2Loss}, {@code mean(0.5 (label - prediction)^2)}, with its factor 0.5 made by
 * {@link Scalars}: DJL's own multiplies by a number ({@code mul(weight)}), whose 0-dim tensor views
 * a Java buffer that the garbage collector may free before backward reads it, so gradients through
 * DJL's {@code L2Loss} depend on GC timing. The forward value is the same bit for bit.
 */
public final class SafeL2Loss extends Loss {

    /** A new loss named {@code L2Loss}, as DJL's. */
    public SafeL2Loss() {
        super("L2Loss");
    }

    @Override
    public NDArray evaluate(NDList label, NDList prediction) {
        NDArray pred = prediction.singletonOrThrow();
        NDArray diff = label.singletonOrThrow().reshape(pred.getShape()).sub(pred);
        return Scalars.mul(diff.square(), 0.5).mean();
    }
}
