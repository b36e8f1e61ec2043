package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a Hugging Face style checkpoint folder one tensor at a time, so a merge never holds the
 * whole model: shards of at most {@code maxShardBytes} data bytes (a larger tensor gets a shard of
 * its own) named {@code model-00001-of-00003.safetensors} plus {@value CheckpointReader#INDEX_FILE},
 * or a single {@value CheckpointReader#SINGLE_FILE} without index when everything fits in one.
 *
 * <p>A shard's header precedes its data but is known only once the shard is full, so tensor data
 * is first appended to a spill file and copied behind the header when the shard closes (one extra
 * sequential copy, done by the kernel where it can). The shard count is known only at the end, so
 * shards get their final names at {@link #commit()}, which publishes the whole folder atomically.
 */
public final class ShardedCheckpointWriter implements AutoCloseable {

    /** Hugging Face's default {@code max_shard_size} ("5GB", decimal). */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    private final AtomicFiles.PendingDirectory pending;
    private final long maxShardBytes;
    private final Map<String, String> metadata;
    private final long chunkBytes;
    private final Set<String> names = new HashSet<>();
    private final List<FinishedShard> finished = new ArrayList<>();
    private OpenShard current;
    private long totalBytes;
    private boolean failed;
    private boolean committed;

    /** A shard whose data is still being appended to its spill file. */
    private record OpenShard(Path spill, FileChannel channel, List<TensorSpec> layout) {}

    /** A complete shard file in the staging folder, under a temporary name. */
    private record FinishedShard(Path file, List<TensorSpec> layout) {}

    private ShardedCheckpointWriter(
            AtomicFiles.PendingDirectory pending,
            long maxShardBytes,
            Map<String, String> metadata,
            long chunkBytes) {
        this.pending = pending;
        this.maxShardBytes = maxShardBytes;
        this.metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        this.chunkBytes = chunkBytes;
    }

    /** Starts writing the checkpoint folder {@code directory}; each shard header gets {@code metadata}. */
    public static ShardedCheckpointWriter open(
            Path directory, long maxShardBytes, Map<String, String> metadata) throws IOException {
        return open(directory, maxShardBytes, metadata, TensorCodec.DEFAULT_CHUNK_BYTES);
    }

    /** Starts writing, converting tensors in chunks of at most {@code chunkBytes}. */
    static ShardedCheckpointWriter open(
            Path directory, long maxShardBytes, Map<String, String> metadata, long chunkBytes)
            throws IOException {
        if (maxShardBytes < 1) {
            throw new IllegalArgumentException(
                    "maxShardBytes must be positive, got " + maxShardBytes);
        }
        return new ShardedCheckpointWriter(
                AtomicFiles.beginDirectory(directory), maxShardBytes, metadata, chunkBytes);
    }

    /** The staging folder that becomes the checkpoint folder: put other files (config.json...) here. */
    public Path stagingDirectory() {
        return pending.directory();
    }

    /** Appends one tensor stored in its own dtype. */
    public void write(String name, NDArray array) throws IOException {
        write(name, array, array.getDataType());
    }

    /** Appends one tensor stored as {@code stored} (e.g. BFLOAT16 from a float32 array). */
    public void write(String name, NDArray array, DataType stored) throws IOException {
        requireUsable();
        TensorSpec spec = new TensorSpec(name, stored, array.getShape());
        if (names.contains(name)) {
            throw new IllegalArgumentException(
                    "Tensor '" + name + "' was already written to " + pending.target());
        }
        long length = spec.byteLength();
        failed = true; // until the bytes are all out: a partial tensor or shard makes the output
        // unusable
        if (current != null
                && !current.layout().isEmpty()
                && shardBytes(current) + length > maxShardBytes) {
            finishShard();
        }
        if (current == null) {
            current = newShard();
        }
        long written = TensorCodec.write(array, stored, current.channel(), chunkBytes, name);
        if (written != length) {
            throw new IllegalStateException(
                    "Tensor '" + name + "': wrote " + written + " bytes, expected " + length);
        }
        current.layout().add(spec);
        names.add(name);
        totalBytes += length;
        failed = false;
    }

    /**
     * Closes the last shard, gives the shards their final names, writes the index (several shards
     * only) and publishes the folder atomically, replacing any previous one.
     */
    public void commit() throws IOException {
        requireUsable();
        failed = true; // a failure below leaves the staging folder half renamed
        if (current != null || finished.isEmpty()) {
            if (current == null) {
                current = newShard();
            }
            finishShard();
        }
        Path dir = pending.directory();
        int count = finished.size();
        if (count == 1) {
            Files.move(finished.get(0).file(), dir.resolve(CheckpointReader.SINGLE_FILE));
        } else {
            TreeMap<String, String> weightMap = new TreeMap<>();
            for (int i = 0; i < count; i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, count);
                Files.move(finished.get(i).file(), dir.resolve(name));
                finished.get(i).layout().forEach(spec -> weightMap.put(spec.name(), name));
            }
            JsonIO.writeSorted(dir.resolve(CheckpointReader.INDEX_FILE), index(weightMap));
        }
        pending.commit();
        committed = true;
        failed = false;
    }

    private void requireUsable() {
        if (committed) {
            throw new IllegalStateException(pending.target() + " is already committed");
        }
        if (failed) {
            throw new IllegalStateException(
                    "An earlier write to " + pending.target() + " failed midway");
        }
    }

    private JsonObject index(Map<String, String> weightMap) {
        JsonObject meta = new JsonObject();
        meta.addProperty("total_size", totalBytes);
        JsonObject map = new JsonObject();
        weightMap.forEach(map::addProperty);
        JsonObject index = new JsonObject();
        index.add("metadata", meta);
        index.add("weight_map", map);
        return index;
    }

    private OpenShard newShard() throws IOException {
        Path spill =
                pending.directory().resolve(String.format(".shard-%05d.data", finished.size() + 1));
        FileChannel channel =
                FileChannel.open(
                        spill,
                        StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE,
                        StandardOpenOption.READ);
        return new OpenShard(spill, channel, new ArrayList<>());
    }

    private static long shardBytes(OpenShard shard) {
        return shard.layout().stream().mapToLong(TensorSpec::byteLength).sum();
    }

    /** Writes the shard file: its header, then the spilled data copied behind it. */
    private void finishShard() throws IOException {
        Path file =
                pending.directory()
                        .resolve(String.format(".shard-%05d.safetensors", finished.size() + 1));
        try (FileChannel spill = current.channel();
                FileChannel out =
                        FileChannel.open(
                                file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            TensorCodec.writeFully(
                    out, ByteBuffer.wrap(SafetensorsHeader.encode(current.layout(), metadata)));
            long size = spill.size();
            for (long position = 0; position < size; ) {
                position += spill.transferTo(position, size - position, out);
            }
        }
        Files.delete(current.spill());
        finished.add(new FinishedShard(file, current.layout()));
        current = null;
    }

    /** Deletes everything written unless the checkpoint was committed. */
    @Override
    public void close() throws IOException {
        try {
            if (current != null) {
                current.channel().close();
            }
        } finally {
            pending.close();
        }
    }
}
