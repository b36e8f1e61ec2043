package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.core.io.TorchPickle.TensorRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Reads PyTorch checkpoints ({@code pytorch_model.bin}, sharded with {@code
 * pytorch_model.bin.index.json}) without Python: the {@code torch.save} ZIP archive (format
 * version 3) is read in place, its {@code data.pkl} through a restricted reader that accepts
 * tensors only ({@link TorchPickle}: a pickle naming any other callable is refused, nothing runs),
 * and each tensor's bytes are mapped from its stored storage entry. Tensors must be contiguous
 * (state dicts are); the legacy pre-1.6 tar format, compressed entries and big-endian archives are
 * refused with the reason.
 */
public final class TorchBinReader implements TensorSource {

    /** The single-file name. */
    public static final String SINGLE_FILE = "pytorch_model.bin";

    /** The index of a sharded checkpoint. */
    public static final String INDEX_FILE = "pytorch_model.bin.index.json";

    private record Located(int shard, TensorInfo info) {}

    private final Path location;
    private final List<FileChannel> channels = new ArrayList<>();
    private final Map<String, Located> tensors = new LinkedHashMap<>();

    private TorchBinReader(Path location) {
        this.location = location;
    }

    /** Whether a folder holds a PyTorch checkpoint (and no safetensors one). */
    public static boolean isTorchFolder(Path folder) {
        return Files.isRegularFile(folder.resolve(SINGLE_FILE))
                || Files.isRegularFile(folder.resolve(INDEX_FILE));
    }

    /** Opens a folder, an index file or a {@code .bin} file. */
    public static TorchBinReader open(Path location) throws IOException {
        Path file = location;
        if (Files.isDirectory(location)) {
            file =
                    Files.isRegularFile(location.resolve(INDEX_FILE))
                            ? location.resolve(INDEX_FILE)
                            : location.resolve(SINGLE_FILE);
        }
        TorchBinReader r = new TorchBinReader(file);
        try {
            if (file.getFileName().toString().endsWith(".json")) {
                JsonObject index = JsonIO.readObject(file);
                JsonElement map = index.get("weight_map");
                if (map == null || !map.isJsonObject()) {
                    throw new CheckpointFormatException(
                            file, null, "index has no \"weight_map\" object");
                }
                Map<String, String> weightMap = new LinkedHashMap<>();
                for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
                    String shard = e.getValue().getAsString();
                    if (shard.contains("/") || shard.contains("\\") || shard.startsWith(".")) {
                        throw new CheckpointFormatException(
                                file,
                                e.getKey(),
                                "weight_map value '"
                                        + shard
                                        + "' is not a shard in the same folder");
                    }
                    weightMap.put(e.getKey(), shard);
                }
                Path indexFile = file;
                for (String shard : new TreeSet<>(weightMap.values())) {
                    Map<String, TensorInfo> infos = r.addShard(indexFile.resolveSibling(shard));
                    weightMap.forEach(
                            (k, v) -> {
                                if (v.equals(shard) && !infos.containsKey(k)) {
                                    throw new IllegalArgumentException(
                                            indexFile
                                                    + ": '"
                                                    + k
                                                    + "' is listed for "
                                                    + shard
                                                    + " but not in it");
                                }
                            });
                }
            } else {
                r.addShard(file);
            }
        } catch (IOException | RuntimeException e) {
            r.close();
            throw e;
        }
        return r;
    }

    private Map<String, TensorInfo> addShard(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        channels.add(ch);
        int shard = channels.size() - 1;
        byte[] head = new byte[(int) Math.min(ch.size(), 2)];
        ZipDirectory.read(ch, 0, head.length).get(head);
        if (head.length < 2 || head[0] != 'P' || head[1] != 'K') {
            throw new CheckpointFormatException(
                    file,
                    null,
                    "not a torch.save ZIP archive (the legacy pre-1.6 format is not read; re-save"
                            + " it with a current PyTorch, or as safetensors)");
        }
        Map<String, ZipDirectory.Entry> entries = ZipDirectory.read(file, ch);
        ZipDirectory.Entry pkl = null;
        for (ZipDirectory.Entry e : entries.values()) {
            if (e.name().endsWith("/data.pkl")
                    && e.name().indexOf('/') == e.name().length() - "/data.pkl".length()) {
                pkl = e;
            }
        }
        if (pkl == null) {
            throw new CheckpointFormatException(
                    file, null, "no <archive>/data.pkl entry: not a torch.save archive");
        }
        String prefix = pkl.name().substring(0, pkl.name().length() - "data.pkl".length());
        ZipDirectory.Entry order = entries.get(prefix + "byteorder");
        if (order != null && !"little".equals(text(ch, order))) {
            throw new CheckpointFormatException(
                    file,
                    null,
                    "byteorder is '" + text(ch, order) + "'; only little-endian archives are read");
        }
        if (pkl.method() != 0 || pkl.size() > Integer.MAX_VALUE) {
            throw new CheckpointFormatException(file, null, "data.pkl is compressed or too large");
        }
        byte[] pickle = new byte[(int) pkl.size()];
        ZipDirectory.read(ch, pkl.dataOffset(), pickle.length).get(pickle);
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        for (Map.Entry<String, TensorRef> e : TorchPickle.stateDict(file, pickle).entrySet()) {
            String key = e.getKey();
            TensorRef t = e.getValue();
            ZipDirectory.Entry data = entries.get(prefix + "data/" + t.storageKey());
            if (data == null) {
                throw new CheckpointFormatException(
                        file, key, "storage '" + t.storageKey() + "' is not in the archive");
            }
            if (data.method() != 0) {
                throw new CheckpointFormatException(
                        file, key, "storage entry is compressed; torch.save writes them stored");
            }
            long expected = 1;
            for (int i = t.shape().length - 1; i >= 0; i--) {
                if (t.shape()[i] != 1 && t.stride()[i] != expected) {
                    throw new CheckpointFormatException(
                            file,
                            key,
                            "tensor is not contiguous (strides "
                                    + java.util.Arrays.toString(t.stride())
                                    + "); save .contiguous() tensors");
                }
                expected *= t.shape()[i];
            }
            long bytes = expected * t.dtype().getNumOfBytes();
            long start = t.offset() * t.dtype().getNumOfBytes();
            if (start + bytes > data.size()) {
                throw new CheckpointFormatException(
                        file, key, "tensor runs past the end of its storage");
            }
            TensorInfo info =
                    new TensorInfo(
                            key, t.dtype(), new Shape(t.shape()), data.dataOffset() + start, bytes);
            if (tensors.containsKey(key)) {
                throw new CheckpointFormatException(file, key, "tensor appears in two shards");
            }
            tensors.put(key, new Located(shard, info));
            infos.put(key, info);
        }
        return infos;
    }

    private static String text(FileChannel ch, ZipDirectory.Entry e) throws IOException {
        ByteBuffer b = ZipDirectory.read(ch, e.dataOffset(), (int) Math.min(e.size(), 64));
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return new String(bytes, StandardCharsets.US_ASCII).strip();
    }

    @Override
    public List<String> keys() {
        return List.copyOf(tensors.keySet());
    }

    @Override
    public boolean contains(String key) {
        return tensors.containsKey(key);
    }

    @Override
    public TensorInfo info(String key) {
        Located l = tensors.get(key);
        if (l == null) {
            throw KeySuggestions.unknownKey(key, List.copyOf(tensors.keySet()), location);
        }
        return l.info();
    }

    @Override
    public synchronized NDArray load(String key, NDManager manager, DataType target)
            throws IOException {
        TensorInfo info = info(key);
        return TensorCodec.load(
                channels.get(tensors.get(key).shard()),
                info,
                manager,
                target,
                TensorCodec.DEFAULT_CHUNK_BYTES);
    }

    @Override
    public synchronized void close() throws IOException {
        IOException first = null;
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        channels.clear();
        if (first != null) {
            throw first;
        }
    }
}
