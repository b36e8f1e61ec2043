package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Writes the merged model as a Hugging Face folder: sharded safetensors with
 * {@code model.safetensors.index.json} (one {@code model.safetensors} when it fits in one shard),
 * plus the base folder's other files (config.json, tokenizer files...), published atomically on
 * {@link #commit()}: an interrupted merge leaves nothing under the final name.
 */
public final class ModelFolderOutput implements MergeOutput {

    /** Weight files of the base that are not copied (the merge writes its own weights). */
    private static final List<String> WEIGHT_SUFFIXES =
            List.of(
                    ".safetensors",
                    ".bin",
                    ".pt",
                    ".pth",
                    ".h5",
                    ".msgpack",
                    ".onnx",
                    ".ckpt",
                    ".gguf",
                    ".safetensors.index.json",
                    ".bin.index.json");

    private final Path dir;
    private final ShardedCheckpointWriter writer;
    private final Path copyFrom;
    private final DataType dtype;
    private final Map<String, byte[]> extraFiles;
    private long bytes;

    private ModelFolderOutput(
            Path dir,
            ShardedCheckpointWriter writer,
            Path copyFrom,
            DataType dtype,
            Map<String, byte[]> extraFiles) {
        this.dir = dir;
        this.writer = writer;
        this.copyFrom = copyFrom;
        this.dtype = dtype;
        this.extraFiles = extraFiles;
    }

    /** A builder: {@code setDirectory} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void write(String key, NDArray theta0, Delta delta, DataType stored) throws IOException {
        DataType target = dtype != null && theta0.getDataType().isFloating() ? dtype : stored;
        if (delta.isZero()) {
            writer.write(key, theta0, target);
        } else {
            try (NDManager scope = theta0.getManager().newSubManager()) {
                NDArray merged = delta.addTo(theta0);
                merged.attach(scope);
                writer.write(key, merged, target);
            }
        }
        bytes += theta0.getShape().size() * target.getNumOfBytes();
    }

    /**
     * Copies the base folder's other files, writes the extra files (with {@code optDtype}, the
     * config.json written, copied or extra, says the stored dtype in {@code torch_dtype} and {@code
     * dtype}, as transformers reads it), then publishes the folder.
     */
    @Override
    public void commit() throws IOException {
        Path staging = writer.stagingDirectory();
        if (copyFrom != null) {
            try (Stream<Path> files = Files.list(copyFrom)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if (!Files.isRegularFile(f) || isWeights(name)) {
                        continue;
                    }
                    if (dtype != null && name.equals("config.json")) {
                        Files.writeString(staging.resolve(name), withDtype(Files.readString(f), f));
                    } else {
                        Files.copy(f, staging.resolve(f.getFileName()));
                    }
                }
            }
        }
        for (Map.Entry<String, byte[]> e : extraFiles.entrySet()) {
            Path target = staging.resolve(e.getKey());
            if (dtype != null && e.getKey().equals("config.json")) {
                Files.writeString(
                        target,
                        withDtype(
                                new String(e.getValue(), java.nio.charset.StandardCharsets.UTF_8),
                                target));
            } else {
                Files.write(target, e.getValue());
            }
        }
        writer.commit();
    }

    private String withDtype(String json, Path file) {
        JsonObject o;
        try {
            o = JsonParser.parseString(json).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not a JSON object: " + e.getMessage(), e);
        }
        String name = TORCH_NAMES.get(dtype);
        if (name == null) {
            throw new IllegalArgumentException("no torch dtype name for " + dtype);
        }
        o.addProperty("torch_dtype", name);
        if (o.has("dtype")) {
            o.addProperty("dtype", name);
        }
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o)
                + "\n";
    }

    private static final Map<DataType, String> TORCH_NAMES =
            Map.of(
                    DataType.FLOAT32, "float32",
                    DataType.FLOAT16, "float16",
                    DataType.BFLOAT16, "bfloat16",
                    DataType.FLOAT64, "float64");

    private static boolean isWeights(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return WEIGHT_SUFFIXES.stream().anyMatch(n::endsWith)
                || n.equals(CheckpointReader.INDEX_FILE);
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public String describe() {
        return "model folder " + dir;
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }

    /** Builds (opens) a {@link ModelFolderOutput}. */
    public static final class Builder {
        private Path dir;
        private long maxShardBytes = ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES;
        private Path copyFrom;
        private DataType dtype;
        private final Map<String, byte[]> extraFiles = new LinkedHashMap<>();

        private Builder() {}

        /** A file written into the folder with the weights ({@code mergekit_config.yml}...). */
        public Builder optExtraFile(String name, byte[] content) {
            if (name.contains("/") || name.contains("\\") || isWeights(name)) {
                throw new IllegalArgumentException("not a plain non-weight file name: " + name);
            }
            extraFiles.put(name, content.clone());
            return this;
        }

        /** The folder to publish (required); nothing appears under this name before {@code commit}. */
        public Builder setDirectory(Path dir) {
            this.dir = dir;
            return this;
        }

        /** The shard size limit in bytes (default {@link ShardedCheckpointWriter#DEFAULT_MAX_SHARD_BYTES}). */
        public Builder optMaxShardBytes(long maxShardBytes) {
            this.maxShardBytes = maxShardBytes;
            return this;
        }

        /** The base model folder whose non-weight files (config, tokenizer) are copied; none by default. */
        public Builder optCopyFilesFrom(Path baseFolder) {
            this.copyFrom = baseFolder;
            return this;
        }

        /** The stored dtype of floating-point tensors; by default each keeps the base's. */
        public Builder optDtype(DataType dtype) {
            this.dtype = dtype;
            return this;
        }

        /** Starts writing the folder. */
        public ModelFolderOutput build() throws IOException {
            if (dir == null) {
                throw new IllegalArgumentException("ModelFolderOutput needs setDirectory");
            }
            ShardedCheckpointWriter writer =
                    ShardedCheckpointWriter.open(dir, maxShardBytes, Map.of("format", "pt"));
            return new ModelFolderOutput(
                    dir,
                    writer,
                    copyFrom != null && Files.isDirectory(copyFrom) ? copyFrom : null,
                    dtype,
                    Map.copyOf(extraFiles));
        }
    }
}
