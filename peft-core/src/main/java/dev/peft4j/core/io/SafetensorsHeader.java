package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.JsonWriter;
import java.io.EOFException;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The header of a safetensors file: an 8-byte little-endian length N, then N bytes of JSON mapping
 * each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to
 * the data region that starts at byte 8 + N), plus an optional {@code "__metadata__"} string map.
 */
final class SafetensorsHeader {

    /** The reserved header key of the string-to-string metadata map. */
    static final String METADATA_KEY = "__metadata__";

    /** The largest header accepted, as in the reference implementation. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final int ALIGNMENT = 8;

    private final long dataStart;
    private final Map<String, String> metadata;
    private final Map<String, TensorInfo> tensors;

    private SafetensorsHeader(
            long dataStart, Map<String, String> metadata, Map<String, TensorInfo> tensors) {
        this.dataStart = dataStart;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /** The absolute file offset of the data region. */
    long dataStart() {
        return dataStart;
    }

    /** The {@code __metadata__} map, empty when absent. */
    Map<String, String> metadata() {
        return metadata;
    }

    /** The tensors by name, iterating in data-offset order. */
    Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** Reads and fully validates the header of {@code file} through its open channel. */
    static SafetensorsHeader read(Path file, FileChannel channel) throws IOException {
        long size = channel.size();
        if (size < Long.BYTES) {
            throw new CheckpointFormatException(
                    file,
                    null,
                    "file is " + size + " bytes long, shorter than the 8-byte header length field");
        }
        long n = readFully(channel, 0, Long.BYTES).getLong(0);
        if (n < 0 || n > size - Long.BYTES) {
            throw new CheckpointFormatException(
                    file,
                    null,
                    "header length "
                            + Long.toUnsignedString(n)
                            + " exceeds the "
                            + (size - Long.BYTES)
                            + " bytes that follow it (truncated file?)");
        }
        if (n > MAX_HEADER_BYTES) {
            throw new CheckpointFormatException(
                    file,
                    null,
                    "header length "
                            + n
                            + " bytes exceeds the limit of "
                            + MAX_HEADER_BYTES
                            + " bytes");
        }
        String json = decodeUtf8(file, readFully(channel, Long.BYTES, (int) n));
        List<Entry> entries = new ArrayList<>();
        Map<String, String> metadata = new Parser(file, json).parse(entries);
        long dataStart = Long.BYTES + n;
        return new SafetensorsHeader(
                dataStart, metadata, layout(file, entries, dataStart, size - dataStart));
    }

    /** Encodes the header for tensors laid out contiguously in {@code layout} order, padded with spaces to 8 bytes. */
    static byte[] encode(List<TensorSpec> layout, Map<String, String> metadata) {
        StringWriter text = new StringWriter();
        try (JsonWriter w = new JsonWriter(text)) {
            w.setHtmlSafe(false);
            w.beginObject();
            if (metadata != null && !metadata.isEmpty()) {
                w.name(METADATA_KEY).beginObject();
                for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                    w.name(e.getKey()).value(e.getValue());
                }
                w.endObject();
            }
            Set<String> seen = new HashSet<>();
            long offset = 0;
            for (TensorSpec spec : layout) {
                if (!seen.add(spec.name())) {
                    throw new IllegalArgumentException(
                            "Duplicate tensor name '" + spec.name() + "' in the layout");
                }
                long end = offset + spec.byteLength();
                w.name(spec.name()).beginObject().name("dtype").value(spec.dtype().asSafetensors());
                w.name("shape").beginArray();
                for (long d : spec.shape().getShape()) {
                    w.value(d);
                }
                w.endArray().name("data_offsets").beginArray().value(offset).value(end).endArray();
                w.endObject();
                offset = end;
            }
            w.endObject();
        } catch (IOException e) {
            throw new IllegalStateException("StringWriter cannot fail", e);
        }
        byte[] json = text.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        ByteBuffer out = ByteBuffer.allocate(Long.BYTES + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(json);
        while (out.hasRemaining()) {
            out.put((byte) ' ');
        }
        return out.array();
    }

    /** One parsed tensor entry before layout validation; offsets relative to the data region. */
    private record Entry(String name, DataType dtype, Shape shape, long begin, long end) {}

    private static Map<String, TensorInfo> layout(
            Path file, List<Entry> entries, long dataStart, long dataSize)
            throws CheckpointFormatException {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Entry previous = null;
        for (Entry e : sorted) {
            String range = "data_offsets [" + e.begin() + ", " + e.end() + "]";
            if (e.end() > dataSize) {
                throw new CheckpointFormatException(
                        file,
                        e.name(),
                        range
                                + " extend beyond the "
                                + dataSize
                                + "-byte data region (truncated file?)");
            }
            long expected = byteLength(file, e);
            if (e.end() - e.begin() != expected) {
                throw new CheckpointFormatException(
                        file,
                        e.name(),
                        "shape "
                                + e.shape()
                                + " of "
                                + e.dtype().asSafetensors()
                                + " needs "
                                + expected
                                + " bytes but "
                                + range
                                + " span "
                                + (e.end() - e.begin()));
            }
            long previousEnd = previous == null ? 0 : previous.end();
            if (e.begin() < previousEnd) {
                throw new CheckpointFormatException(
                        file,
                        e.name(),
                        range
                                + " overlap tensor '"
                                + previous.name()
                                + "' which ends at "
                                + previousEnd);
            }
            if (e.begin() > previousEnd) {
                throw new CheckpointFormatException(
                        file,
                        e.name(),
                        range
                                + " leave a gap of "
                                + (e.begin() - previousEnd)
                                + " bytes: tensors must cover the data region contiguously");
            }
            tensors.put(
                    e.name(),
                    new TensorInfo(
                            e.name(), e.dtype(), e.shape(), dataStart + e.begin(), expected));
            previous = e;
        }
        long covered = previous == null ? 0 : previous.end();
        if (covered != dataSize) {
            throw new CheckpointFormatException(
                    file,
                    null,
                    "the tensors cover "
                            + covered
                            + " bytes but the data region after the header holds "
                            + dataSize
                            + " bytes");
        }
        return tensors;
    }

    private static long byteLength(Path file, Entry e) throws CheckpointFormatException {
        try {
            return Dtypes.byteLength(e.shape(), e.dtype(), e.name());
        } catch (IllegalArgumentException overflow) {
            throw new CheckpointFormatException(file, e.name(), overflow.getMessage(), overflow);
        }
    }

    /** Streams the header JSON strictly, so duplicate names and trailing garbage are caught. */
    private static final class Parser {

        private final Path file;
        private final JsonReader reader;

        Parser(Path file, String json) {
            this.file = file;
            this.reader = new JsonReader(new StringReader(json));
            reader.setStrictness(Strictness.STRICT);
        }

        /** Parses the whole header into {@code entries} and returns the metadata map. */
        Map<String, String> parse(List<Entry> entries) throws CheckpointFormatException {
            Map<String, String> metadata = new LinkedHashMap<>();
            String current = null;
            try {
                if (reader.peek() != JsonToken.BEGIN_OBJECT) {
                    throw new CheckpointFormatException(
                            file, null, "header is JSON but not an object");
                }
                reader.beginObject();
                Set<String> seen = new HashSet<>();
                while (reader.hasNext()) {
                    current = reader.nextName();
                    if (!seen.add(current)) {
                        throw new CheckpointFormatException(
                                file, current, "name appears twice in the header");
                    }
                    if (current.equals(METADATA_KEY)) {
                        readMetadata(metadata);
                    } else {
                        entries.add(readEntry(current));
                    }
                    current = null;
                }
                reader.endObject();
                if (reader.peek() != JsonToken.END_DOCUMENT) {
                    throw new CheckpointFormatException(
                            file, null, "content after the header JSON object");
                }
            } catch (CheckpointFormatException e) {
                throw e;
            } catch (IOException | IllegalStateException | NumberFormatException e) {
                throw new CheckpointFormatException(
                        file,
                        current,
                        "header is not valid safetensors JSON: " + e.getMessage(),
                        e);
            }
            return metadata;
        }

        private void readMetadata(Map<String, String> metadata) throws IOException {
            if (reader.peek() == JsonToken.NULL) {
                reader.nextNull();
                return;
            }
            reader.beginObject();
            while (reader.hasNext()) {
                String key = reader.nextName();
                if (reader.peek() != JsonToken.STRING) {
                    throw new CheckpointFormatException(
                            file,
                            null,
                            "__metadata__ value of '"
                                    + key
                                    + "' is "
                                    + reader.peek()
                                    + ", expected a string");
                }
                metadata.put(key, reader.nextString());
            }
            reader.endObject();
        }

        private Entry readEntry(String name) throws IOException {
            String dtypeName = null;
            long[] shape = null;
            long[] offsets = null;
            reader.beginObject();
            while (reader.hasNext()) {
                switch (reader.nextName()) {
                    case "dtype" -> dtypeName = reader.nextString();
                    case "shape" -> shape = readNaturals(name, "shape");
                    case "data_offsets" -> offsets = readNaturals(name, "data_offsets");
                    default -> reader.skipValue(); // tolerated, as newer writers may add fields
                }
            }
            reader.endObject();
            if (dtypeName == null || shape == null || offsets == null) {
                throw new CheckpointFormatException(
                        file, name, "entry needs \"dtype\", \"shape\" and \"data_offsets\"");
            }
            DataType dtype = Dtypes.parse(dtypeName);
            if (dtype == null) {
                throw new CheckpointFormatException(
                        file,
                        name,
                        "unsupported dtype \""
                                + dtypeName
                                + "\" (supported: "
                                + Dtypes.supportedNames()
                                + ")");
            }
            if (offsets.length != 2 || offsets[0] > offsets[1]) {
                throw new CheckpointFormatException(
                        file,
                        name,
                        "data_offsets "
                                + Arrays.toString(offsets)
                                + " must be two numbers [begin, end] with begin <= end");
            }
            return new Entry(name, dtype, new Shape(shape), offsets[0], offsets[1]);
        }

        private long[] readNaturals(String name, String field) throws IOException {
            List<Long> values = new ArrayList<>();
            reader.beginArray();
            while (reader.hasNext()) {
                // peek first: JsonReader.nextLong would also accept quoted numbers
                if (reader.peek() != JsonToken.NUMBER) {
                    throw new CheckpointFormatException(
                            file,
                            name,
                            field + " holds " + reader.peek() + ", expected non-negative integers");
                }
                long v = reader.nextLong();
                if (v < 0) {
                    throw new CheckpointFormatException(
                            file, name, field + " holds negative value " + v);
                }
                values.add(v);
            }
            reader.endArray();
            return values.stream().mapToLong(Long::longValue).toArray();
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (channel.read(buf, position + buf.position()) < 0) {
                throw new EOFException(
                        "File ended while reading " + length + " bytes at " + position);
            }
        }
        return buf.flip();
    }

    private static String decodeUtf8(Path file, ByteBuffer bytes) throws CheckpointFormatException {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointFormatException(file, null, "header is not valid UTF-8", e);
        }
    }
}
