package dev.peft4j.models.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A single safetensors file: a memory-mapped {@link TensorSource} and an atomic writer.
 *
 * <p>Stopgap until peft-core's {@code SafetensorsReader}/{@code SafetensorsWriter} land; it
 * handles one file (no shards). {@code BF16} tensors are widened to float32 on load, since DJL's
 * PyTorch engine does not map bf16 reliably.
 */
public final class SafetensorsFile implements TensorSource, AutoCloseable {

    private static final Map<String, DataType> DTYPES =
            Map.of(
                    "F64", DataType.FLOAT64,
                    "F32", DataType.FLOAT32,
                    "F16", DataType.FLOAT16,
                    "BF16", DataType.BFLOAT16,
                    "I64", DataType.INT64,
                    "I32", DataType.INT32,
                    "I8", DataType.INT8,
                    "U8", DataType.UINT8,
                    "BOOL", DataType.BOOLEAN);

    private final Path file;
    private final FileChannel channel;
    private final Map<String, Entry> entries;

    private record Entry(DataType stored, Shape shape, long begin, long length) {}

    private SafetensorsFile(Path file, FileChannel channel, Map<String, Entry> entries) {
        this.file = file;
        this.channel = channel;
        this.entries = entries;
    }

    /**
     * Opens a safetensors file and reads its header.
     *
     * @param file the file
     * @return the open file; close it when done
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the header is malformed, naming the file and tensor
     */
    public static SafetensorsFile open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new SafetensorsFile(file, channel, readHeader(file, channel));
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    private static Map<String, Entry> readHeader(Path file, FileChannel channel)
            throws IOException {
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(channel, len, 0);
        long headerLength = len.flip().getLong();
        long size = channel.size();
        if (headerLength <= 0 || headerLength > size - 8 || headerLength > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    file + ": invalid safetensors header length " + headerLength);
        }
        ByteBuffer header = ByteBuffer.allocate((int) headerLength);
        readFully(channel, header, 8);
        JsonObject json;
        try {
            json = JsonParser.parseString(
                            new String(header.array(), StandardCharsets.UTF_8))
                    .getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(file + ": header is not a JSON object", e);
        }
        long dataStart = 8 + headerLength;
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : json.entrySet()) {
            if (!"__metadata__".equals(e.getKey())) {
                entries.put(e.getKey(), entry(file, e.getKey(), e.getValue(), dataStart, size));
            }
        }
        return entries;
    }

    private static Entry entry(Path file, String name, JsonElement json, long start, long size) {
        try {
            JsonObject o = json.getAsJsonObject();
            String dtype = o.get("dtype").getAsString();
            DataType stored = DTYPES.get(dtype);
            if (stored == null) {
                throw new IllegalArgumentException("unsupported dtype " + dtype);
            }
            JsonArray dims = o.getAsJsonArray("shape");
            long[] shape = new long[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = dims.get(i).getAsLong();
            }
            JsonArray offsets = o.getAsJsonArray("data_offsets");
            long begin = offsets.get(0).getAsLong();
            long end = offsets.get(1).getAsLong();
            Shape s = new Shape(shape);
            if (begin < 0 || end - begin != s.size() * stored.getNumOfBytes()
                    || start + end > size) {
                throw new IllegalArgumentException(
                        "data_offsets [" + begin + ", " + end + "] do not fit shape " + s
                                + " of " + dtype + " in a file of " + size + " bytes");
            }
            return new Entry(stored, s, start + begin, end - begin);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(
                    file + ": bad header entry for tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    /** {@inheritDoc} */
    @Override
    public Set<String> keys() {
        return Collections.unmodifiableSet(entries.keySet());
    }

    /** {@inheritDoc} */
    @Override
    public TensorInfo info(String key) {
        Entry e = entry(key);
        return new TensorInfo(key, loadedType(e.stored()), e.shape());
    }

    /** {@inheritDoc} */
    @Override
    public NDArray load(String key, NDManager manager) {
        Entry e = entry(key);
        ByteBuffer data;
        try {
            data = channel.map(FileChannel.MapMode.READ_ONLY, e.begin(), e.length());
        } catch (IOException ex) {
            throw new UncheckedIOException(file + ": cannot read tensor '" + key + "'", ex);
        }
        data.order(ByteOrder.LITTLE_ENDIAN);
        if (e.stored() == DataType.BFLOAT16) {
            return manager.create(widenBf16(data), e.shape(), DataType.FLOAT32);
        }
        return manager.create(data, e.shape(), e.stored());
    }

    private Entry entry(String key) {
        Entry e = entries.get(key);
        if (e == null) {
            throw new IllegalArgumentException(file + " has no tensor '" + key + "'");
        }
        return e;
    }

    private static DataType loadedType(DataType stored) {
        return stored == DataType.BFLOAT16 ? DataType.FLOAT32 : stored;
    }

    private static ByteBuffer widenBf16(ByteBuffer bf16) {
        int n = bf16.remaining() / 2;
        ByteBuffer out = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
        for (int i = 0; i < n; i++) {
            // bf16 is the top half of a float32
            out.putInt((bf16.getShort(2 * i) & 0xFFFF) << 16);
        }
        return out.flip();
    }

    /** {@inheritDoc} */
    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return file.toString();
    }

    /**
     * Writes tensors to a safetensors file atomically: a temporary file in the same folder,
     * fsync, then a rename, so a crash never leaves a half-written file under {@code file}.
     *
     * @param file the destination
     * @param tensors name to tensor, written in this order
     * @param metadata the {@code __metadata__} strings (e.g. {@code format: pt})
     * @throws IOException if writing fails
     * @throws IllegalArgumentException if a tensor's dtype has no safetensors code
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", metadata);
        long offset = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            long bytes = a.getShape().size() * a.getDataType().getNumOfBytes();
            header.put(e.getKey(), Map.of(
                    "dtype", code(e.getKey(), a.getDataType()),
                    "shape", a.getShape().getShape(),
                    "data_offsets", new long[] {offset, offset + bytes}));
            offset += bytes;
        }
        byte[] json = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                writeFully(out, prefix.flip());
                for (NDArray a : tensors.values()) {
                    writeFully(out, a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
                }
                out.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static String code(String name, DataType dtype) {
        for (Map.Entry<String, DataType> e : DTYPES.entrySet()) {
            if (e.getValue() == dtype) {
                return e.getKey();
            }
        }
        throw new IllegalArgumentException(
                "tensor '" + name + "' has dtype " + dtype + ", which safetensors cannot store");
    }

    private static void readFully(FileChannel channel, ByteBuffer buf, long position)
            throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = channel.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }
}
