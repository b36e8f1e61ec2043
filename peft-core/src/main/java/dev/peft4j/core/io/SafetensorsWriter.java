package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Streams one {@code .safetensors} file: the caller declares the layout (the header comes first),
 * then writes each tensor's data in that order, converting to the declared dtype (including
 * float32 to BF16/F16), then {@link #commit()} publishes the file atomically. Closing without a
 * commit deletes the temporary file and leaves any existing file untouched.
 *
 * <p>The header is compact JSON with {@code __metadata__} first and the tensors in layout order,
 * padded with spaces to a multiple of 8 bytes, the byte layout of the reference implementation.
 */
public final class SafetensorsWriter implements AutoCloseable {

    private final AtomicFiles.PendingFile pending;
    private final List<TensorSpec> layout;
    private final long chunkBytes;
    private int next;
    private boolean failed;

    private SafetensorsWriter(
            AtomicFiles.PendingFile pending, List<TensorSpec> layout, long chunkBytes) {
        this.pending = pending;
        this.layout = layout;
        this.chunkBytes = chunkBytes;
    }

    /** Starts writing {@code file} with the given tensor layout and header metadata (null or empty: none). */
    public static SafetensorsWriter open(
            Path file, List<TensorSpec> layout, Map<String, String> metadata) throws IOException {
        return open(file, layout, metadata, TensorCodec.DEFAULT_CHUNK_BYTES);
    }

    /** Starts writing {@code file}, converting tensors in chunks of at most {@code chunkBytes}. */
    static SafetensorsWriter open(
            Path file, List<TensorSpec> layout, Map<String, String> metadata, long chunkBytes)
            throws IOException {
        List<TensorSpec> copy = List.copyOf(layout);
        byte[] header = SafetensorsHeader.encode(copy, metadata);
        AtomicFiles.PendingFile pending = AtomicFiles.begin(file);
        try {
            TensorCodec.writeFully(pending.channel(), ByteBuffer.wrap(header));
            return new SafetensorsWriter(pending, copy, chunkBytes);
        } catch (IOException | RuntimeException e) {
            pending.close();
            throw e;
        }
    }

    /** Writes {@code tensors} (stored in their own dtypes, in map order) to {@code file} atomically. */
    public static void write(
            Path file, LinkedHashMap<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        List<TensorSpec> layout = new ArrayList<>();
        tensors.forEach(
                (name, array) ->
                        layout.add(new TensorSpec(name, array.getDataType(), array.getShape())));
        try (SafetensorsWriter writer = open(file, layout, metadata)) {
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                writer.write(e.getKey(), e.getValue());
            }
            writer.commit();
        }
    }

    /** The declared layout. */
    public List<TensorSpec> layout() {
        return layout;
    }

    /**
     * Writes the data of the next declared tensor, which must be {@code name} with the declared
     * shape; the array is converted to the declared dtype.
     */
    public void write(String name, NDArray array) throws IOException {
        requireUsable();
        if (next >= layout.size()) {
            throw new IllegalStateException(
                    "All "
                            + layout.size()
                            + " declared tensors of "
                            + pending.target()
                            + " are written; got an extra one, '"
                            + name
                            + "'");
        }
        TensorSpec spec = layout.get(next);
        if (!spec.name().equals(name)) {
            throw new IllegalArgumentException(
                    "Expected tensor '"
                            + spec.name()
                            + "' (number "
                            + next
                            + " in the layout of "
                            + pending.target()
                            + "), got '"
                            + name
                            + "'");
        }
        if (!spec.shape().equals(array.getShape())) {
            throw new IllegalArgumentException(
                    "Tensor '"
                            + name
                            + "' was declared with shape "
                            + spec.shape()
                            + " but the array has shape "
                            + array.getShape());
        }
        failed = true; // until the bytes are all out: a partial tensor makes the file unusable
        long written = TensorCodec.write(array, spec.dtype(), pending.channel(), chunkBytes, name);
        if (written != spec.byteLength()) {
            throw new IllegalStateException(
                    "Tensor '"
                            + name
                            + "': wrote "
                            + written
                            + " bytes, expected "
                            + spec.byteLength());
        }
        failed = false;
        next++;
    }

    /** Publishes the file atomically; every declared tensor must have been written. */
    public void commit() throws IOException {
        requireUsable();
        if (next < layout.size()) {
            throw new IllegalStateException(
                    "Cannot commit "
                            + pending.target()
                            + ": tensor '"
                            + layout.get(next).name()
                            + "' and "
                            + (layout.size() - next - 1)
                            + " more were declared but not written");
        }
        pending.commit();
    }

    /** Deletes the temporary file unless the writer was committed. */
    @Override
    public void close() throws IOException {
        pending.close();
    }

    private void requireUsable() {
        if (failed) {
            throw new IllegalStateException(
                    "An earlier write to " + pending.target() + " failed midway");
        }
    }
}
