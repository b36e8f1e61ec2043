package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Set;

/**
 * A read-only collection of named tensors (a safetensors file, a sharded checkpoint folder, the
 * initializers of an ONNX graph) that are loaded one at a time, so a model never needs the whole
 * checkpoint in memory.
 */
public interface TensorSource {

    /**
     * Returns the names of every tensor this source holds, in a stable order.
     *
     * @return the tensor names
     */
    Set<String> keys();

    /**
     * Returns the dtype and shape of one tensor without loading its data.
     *
     * @param key a name from {@link #keys()}
     * @return the tensor's description
     * @throws IllegalArgumentException if the source has no tensor {@code key}
     */
    TensorInfo info(String key);

    /**
     * Loads one tensor into {@code manager}.
     *
     * @param key a name from {@link #keys()}
     * @param manager the manager that will own the returned array
     * @return the tensor, with the dtype and shape of {@link #info(String)}
     * @throws IllegalArgumentException if the source has no tensor {@code key}
     */
    NDArray load(String key, NDManager manager);
}
