package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Reads a Hugging Face checkpoint: a single {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json} ({@code weight_map}: tensor name to shard file). Every
 * shard header is validated against the index on open; shard files are then opened lazily for
 * loading, at most a few at a time. Loads are serialized (one at a time).
 */
public final class CheckpointReader implements TensorSource {

    /** The index file name of a sharded checkpoint. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    /** The file name of a single-file checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";

    /** How many shard files stay open by default. */
    public static final int DEFAULT_MAX_OPEN_SHARDS = 4;

    private final Path location;
    private final List<Path> shards;
    private final Map<String, Integer> shardOfKey;
    private final Map<String, TensorInfo> infos;
    private final List<String> keys;
    private final int maxOpenShards;
    private final long chunkBytes;
    private final LinkedHashMap<Integer, SafetensorsReader> open =
            new LinkedHashMap<>(16, 0.75f, true);

    private CheckpointReader(Path location, List<Path> shards, int maxOpenShards, long chunkBytes) {
        this.location = location;
        this.shards = List.copyOf(shards);
        this.maxOpenShards = maxOpenShards;
        this.chunkBytes = chunkBytes;
        this.shardOfKey = new LinkedHashMap<>();
        this.infos = new LinkedHashMap<>();
        this.keys = new ArrayList<>();
    }

    /**
     * Opens a checkpoint given as a folder (holding {@value #INDEX_FILE} or {@value #SINGLE_FILE}),
     * an index file, or a single {@code .safetensors} file.
     */
    public static CheckpointReader open(Path location) throws IOException {
        return open(location, DEFAULT_MAX_OPEN_SHARDS, TensorCodec.DEFAULT_CHUNK_BYTES);
    }

    /** Opens a checkpoint keeping at most {@code maxOpenShards} shard files open. */
    static CheckpointReader open(Path location, int maxOpenShards, long chunkBytes)
            throws IOException {
        if (maxOpenShards < 1) {
            throw new IllegalArgumentException(
                    "maxOpenShards must be at least 1, got " + maxOpenShards);
        }
        AtomicFiles.recover(location); // a folder a killed merge or export was replacing
        Path resolved = resolve(location);
        CheckpointReader reader;
        if (resolved.getFileName().toString().endsWith(".json")) {
            Map<String, String> weightMap = readWeightMap(resolved);
            List<String> shardNames = new ArrayList<>(new TreeSet<>(weightMap.values()));
            List<Path> shards = new ArrayList<>();
            for (String name : shardNames) {
                shards.add(resolved.resolveSibling(name));
            }
            reader = new CheckpointReader(resolved, shards, maxOpenShards, chunkBytes);
            reader.indexShards(resolved, weightMap, shardNames);
        } else {
            reader = new CheckpointReader(resolved, List.of(resolved), maxOpenShards, chunkBytes);
            reader.indexShards(null, null, null);
        }
        return reader;
    }

    private static Path resolve(Path location) throws IOException {
        if (!Files.isDirectory(location)) {
            if (!Files.isRegularFile(location)) {
                throw new NoSuchFileException(
                        location.toString(), null, "no checkpoint file or folder");
            }
            return location;
        }
        for (String candidate : List.of(INDEX_FILE, SINGLE_FILE)) {
            if (Files.isRegularFile(location.resolve(candidate))) {
                return location.resolve(candidate);
            }
        }
        throw new NoSuchFileException(
                location.toString(),
                null,
                "folder holds neither " + INDEX_FILE + " nor " + SINGLE_FILE);
    }

    private static Map<String, String> readWeightMap(Path index) throws IOException {
        JsonObject root = JsonIO.readObject(index);
        JsonElement map = root.get("weight_map");
        if (map == null || !map.isJsonObject()) {
            throw new CheckpointFormatException(index, null, "index has no \"weight_map\" object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
            JsonElement v = e.getValue();
            String shard =
                    v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()
                            ? v.getAsString()
                            : null;
            if (shard == null
                    || shard.isEmpty()
                    || shard.contains("/")
                    || shard.contains("\\")
                    || shard.equals(".")
                    || shard.equals("..")) {
                throw new CheckpointFormatException(
                        index,
                        e.getKey(),
                        "weight_map value "
                                + v
                                + " is not the file name of a shard in the same folder");
            }
            weightMap.put(e.getKey(), shard);
        }
        return weightMap;
    }

    /** Validates every shard header and records where each tensor lies; weightMap null for one file. */
    private void indexShards(Path index, Map<String, String> weightMap, List<String> shardNames)
            throws IOException {
        try {
            for (int s = 0; s < shards.size(); s++) {
                Path shard = shards.get(s);
                List<String> expected = new ArrayList<>();
                if (weightMap != null) {
                    String name = shardNames.get(s);
                    weightMap.forEach(
                            (k, v) -> {
                                if (v.equals(name)) {
                                    expected.add(k);
                                }
                            });
                    if (!Files.isRegularFile(shard)) {
                        throw new CheckpointFormatException(
                                index,
                                expected.get(0),
                                "index maps this tensor and "
                                        + (expected.size() - 1)
                                        + " more to shard '"
                                        + name
                                        + "', which does not exist in "
                                        + shard.getParent());
                    }
                }
                SafetensorsReader reader = reader(s);
                for (String key :
                        weightMap == null ? reader.keys() : sortByOffset(reader, expected, index)) {
                    shardOfKey.put(key, s);
                    infos.put(key, reader.info(key));
                    keys.add(key);
                }
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private static List<String> sortByOffset(
            SafetensorsReader reader, List<String> expected, Path index)
            throws CheckpointFormatException {
        TreeMap<Long, List<String>> byOffset = new TreeMap<>();
        for (String key : expected) {
            if (!reader.contains(key)) {
                throw new CheckpointFormatException(
                        reader.file(),
                        key,
                        "listed in " + index + " for this shard but not present in it");
            }
            byOffset.computeIfAbsent(reader.info(key).byteOffset(), o -> new ArrayList<>())
                    .add(key);
        }
        List<String> sorted = new ArrayList<>();
        byOffset.values().forEach(sorted::addAll);
        return sorted;
    }

    /** The shard files sorted by name, which is shard order for Hugging Face names (one file if unsharded). */
    public List<Path> shards() {
        return shards;
    }

    /** The shard file holding {@code key}. */
    public Path shardOf(String key) {
        info(key);
        return shards.get(shardOfKey.get(key));
    }

    /** The tensor names, shard by shard, each shard in data-offset order. */
    @Override
    public List<String> keys() {
        return List.copyOf(keys);
    }

    /** {@inheritDoc} */
    @Override
    public boolean contains(String key) {
        return infos.containsKey(key);
    }

    /** {@inheritDoc} */
    @Override
    public TensorInfo info(String key) {
        TensorInfo info = infos.get(key);
        if (info == null) {
            throw KeySuggestions.unknownKey(key, keys, location);
        }
        return info;
    }

    /** {@inheritDoc} */
    @Override
    public synchronized NDArray load(String key, NDManager manager, DataType target)
            throws IOException {
        return shardReader(key).load(key, manager, target);
    }

    /** {@inheritDoc} */
    @Override
    public synchronized void addInto(String key, NDArray acc) throws IOException {
        shardReader(key).addInto(key, acc);
    }

    /** The open reader of the shard holding {@code key}, checked against what was indexed. */
    private SafetensorsReader shardReader(String key) throws IOException {
        TensorInfo expected = info(key);
        SafetensorsReader reader = reader(shardOfKey.get(key));
        if (!expected.equals(reader.info(key))) {
            throw new CheckpointFormatException(
                    reader.file(), key, "shard changed on disk since the checkpoint was opened");
        }
        return reader;
    }

    /** Returns the open reader of shard {@code s}, opening it and closing the least recently used one if needed. */
    private synchronized SafetensorsReader reader(int s) throws IOException {
        SafetensorsReader reader = open.get(s);
        if (reader != null) {
            return reader;
        }
        while (open.size() >= maxOpenShards) {
            Iterator<SafetensorsReader> eldest = open.values().iterator();
            SafetensorsReader evicted = eldest.next();
            eldest.remove();
            evicted.close();
        }
        reader = SafetensorsReader.open(shards.get(s), chunkBytes);
        open.put(s, reader);
        return reader;
    }

    /** Closes every open shard file. */
    @Override
    public synchronized void close() throws IOException {
        IOException first = null;
        for (SafetensorsReader reader : open.values()) {
            try {
                reader.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        open.clear();
        if (first != null) {
            throw first;
        }
    }
}
