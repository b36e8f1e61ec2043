package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.util.List;

/** Named tensors stored on disk, loaded one at a time so memory stays bounded by the largest one. */
public interface TensorSource extends AutoCloseable {

    /** The tensor names, in storage order. */
    List<String> keys();

    /** Whether a tensor of that name exists. */
    boolean contains(String key);

    /**
     * Describes one tensor without loading it.
     *
     * @throws IllegalArgumentException if there is no such tensor (the message lists close names)
     */
    TensorInfo info(String key);

    /**
     * Loads one tensor into {@code manager} as {@code target}; the result is an independent copy
     * that does not keep the file open or mapped.
     *
     * @throws IllegalArgumentException for an unknown key or a target type that cannot be loaded
     */
    NDArray load(String key, NDManager manager, DataType target) throws IOException;

    /** Loads one tensor as {@link TensorInfo#defaultLoadType()} (BF16 widened to FLOAT32). */
    default NDArray load(String key, NDManager manager) throws IOException {
        return load(key, manager, info(key).defaultLoadType());
    }

    /**
     * Adds tensor {@code key}, as float32, into {@code acc} (float32, the tensor's shape). Sources
     * that map their files add straight from the mapping (one read, no copy); the default loads a
     * copy first.
     */
    default void addInto(String key, NDArray acc) throws IOException {
        try (NDManager scope = acc.getManager().newSubManager()) {
            acc.addi(load(key, scope, DataType.FLOAT32));
        }
    }

    /** Releases the open files. */
    @Override
    void close() throws IOException;
}
