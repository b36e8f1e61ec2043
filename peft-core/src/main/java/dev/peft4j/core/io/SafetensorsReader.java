package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * Reads one {@code .safetensors} file. The header is validated completely on open; tensor data is
 * memory-mapped one tensor (or one chunk of a large tensor) at a time and copied into the NDArray,
 * so files of any size work and no Java array ever holds the file. The open channel pins the file
 * that was validated, even if it is replaced on disk meanwhile. Safe for concurrent loads.
 */
public final class SafetensorsReader implements TensorSource {

    private final Path file;
    private final FileChannel channel;
    private final SafetensorsHeader header;
    private final List<String> keys;
    private final long chunkBytes;

    private SafetensorsReader(
            Path file, FileChannel channel, SafetensorsHeader header, long chunkBytes) {
        this.file = file;
        this.channel = channel;
        this.header = header;
        this.keys = List.copyOf(header.tensors().keySet());
        this.chunkBytes = chunkBytes;
    }

    /** Opens and validates {@code file}. */
    public static SafetensorsReader open(Path file) throws IOException {
        return open(file, TensorCodec.DEFAULT_CHUNK_BYTES);
    }

    /** Opens {@code file}, loading tensors above {@code chunkBytes} in several mapped chunks. */
    static SafetensorsReader open(Path file, long chunkBytes) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new SafetensorsReader(
                    file, channel, SafetensorsHeader.read(file, channel), chunkBytes);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** The file read. */
    public Path file() {
        return file;
    }

    /** The tensor names in data-offset order. */
    @Override
    public List<String> keys() {
        return keys;
    }

    /** {@inheritDoc} */
    @Override
    public boolean contains(String key) {
        return header.tensors().containsKey(key);
    }

    /** {@inheritDoc} */
    @Override
    public TensorInfo info(String key) {
        TensorInfo info = header.tensors().get(key);
        if (info == null) {
            throw KeySuggestions.unknownKey(key, keys, file);
        }
        return info;
    }

    /** The {@code __metadata__} string map of the header, empty when absent. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Adds float32 data straight from the mapped file ({@link TensorCodec#addInto}). */
    @Override
    public void addInto(String key, NDArray acc) throws IOException {
        TensorInfo info = info(key);
        if (!channel.isOpen()) {
            throw new IllegalStateException("Reader of " + file + " is closed");
        }
        if (channel.size() < info.byteOffset() + info.byteLength()
                || !TensorCodec.addInto(channel, info, acc)) {
            TensorSource.super.addInto(key, acc); // load() names a file that shrank
        }
    }

    /** {@inheritDoc} */
    @Override
    public NDArray load(String key, NDManager manager, DataType target) throws IOException {
        TensorInfo info = info(key);
        if (!channel.isOpen()) {
            throw new IllegalStateException("Reader of " + file + " is closed");
        }
        long end = info.byteOffset() + info.byteLength();
        if (channel.size() < end) {
            // mapping past the end would make the engine's copy fault and kill the JVM
            throw new CheckpointFormatException(
                    file,
                    key,
                    "file shrank to "
                            + channel.size()
                            + " bytes since it was opened; the tensor ends at byte "
                            + end);
        }
        try {
            return TensorCodec.load(channel, info, manager, target, chunkBytes);
        } catch (CheckpointFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new IOException(
                    "Cannot read tensor '" + key + "' from " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@inheritDoc} */
    @Override
    public void close() throws IOException {
        channel.close();
    }
}
