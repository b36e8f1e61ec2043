package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;

/**
 * Where a merge writes its result, one tensor at a time; nothing is visible under the final name
 * before {@link #commit()}, and closing without a commit discards everything.
 */
public interface MergeOutput extends AutoCloseable {

    /**
     * Receives the merged value {@code theta0 + delta} of base tensor {@code key}.
     *
     * @param theta0 the base tensor (float32 for floating-point tensors, as stored otherwise)
     * @param delta the merged change (zero for tensors no candidate changes)
     * @param stored the dtype the base stores it in
     */
    void write(String key, NDArray theta0, Delta delta, DataType stored) throws IOException;

    /** Publishes the output. */
    void commit() throws IOException;

    /** Bytes of tensor data written so far. */
    long bytes();

    /** What the output is, for the summary ("model folder /out (3 shards)"). */
    String describe();

    /** Discards the output unless it was committed. */
    @Override
    void close() throws IOException;
}
