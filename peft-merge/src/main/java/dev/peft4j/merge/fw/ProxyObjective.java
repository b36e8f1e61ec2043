package dev.peft4j.merge.fw;

import ai.djl.ndarray.NDArray;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The objective FW-Merging minimises over merged weights: a task loss on a small proxy set (a few
 * labelled examples, or prediction entropy on unlabelled inputs) of a model whose weights the
 * merge sets. Tensors are named like the base checkpoint ({@code encoder.layer.0.attention.self.query.weight}).
 * {@link BlockObjective} implements it over a DJL block.
 */
public interface ProxyObjective {

    /** The tensors the objective depends on, by checkpoint name. */
    Set<String> keys();

    /** The model's current value of one tensor (owned by the model: do not close it). */
    NDArray weight(String key);

    /** Sets one tensor of the model (a float32 array of its shape; copied). */
    void setWeight(String key, NDArray value);

    /** The loss at the current weights. */
    double loss();

    /**
     * The loss at the current weights and its gradient with respect to each tensor of
     * {@link #keys()}, handed to {@code gradients} (arrays valid only during the call: copy to keep).
     */
    double lossAndGradient(BiConsumer<String, NDArray> gradients);
}
