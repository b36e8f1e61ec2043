package dev.peft4j.core.io;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Interoperability with the format as specified and as the reference implementation writes it:
 * a file built byte by byte from the spec, a file written by Hugging Face safetensors
 * (make_reference.py beside reference.safetensors in the test resources), and our own header
 * checked field by field.
 */
class SafetensorsReferenceTest extends IoTestBase {

    @Test
    void readsAHandBuiltFileWithUnpaddedHeaderMisalignedDataAndUnknownFields() throws IOException {
        // u8 first so the f32 tensor starts at an odd address; an extra entry field must be ignored
        String header =
                "{\"mask\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                    + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[3,19],\"note\":[1]},\"__metadata__\":{\"source\":\"by"
                    + " hand\"}}";
        byte[] data =
                TestFiles.concat(
                        new byte[] {5, 0, (byte) 250}, TestFiles.le(1.5f, -2f, 0.25f, 1e-3f));
        Path file = dir.resolve("hand.safetensors");
        Files.write(file, TestFiles.safetensors(header, data));

        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(List.of("mask", "w"), reader.keys());
            assertEquals(Map.of("source", "by hand"), reader.metadata());
            long dataStart = 8 + header.length();
            assertEquals(
                    new TensorInfo("w", DataType.FLOAT32, new Shape(2, 2), dataStart + 3, 16),
                    reader.info("w"));
            assertArrayEquals(
                    new int[] {5, 0, 250},
                    reader.load("mask", manager).toType(DataType.INT32, false).toIntArray());
            assertArrayEquals(
                    new float[] {1.5f, -2f, 0.25f, 1e-3f},
                    reader.load("w", manager).toFloatArray());
        }
    }

    @Test
    void readsTheFileWrittenByTheReferenceImplementation() throws IOException {
        try (SafetensorsReader reader = SafetensorsReader.open(referenceFile())) {
            // the reference writer orders by dtype alignment, then name; keys() follows data
            // offsets
            assertEquals(
                    List.of(
                            "i64", "f64", "empty", "f32", "scalar", "i32", "bf16", "f16", "i8",
                            "u8", "bool"),
                    reader.keys());
            assertEquals(Map.of("format", "pt"), reader.metadata());
            float[] f32 = new float[12];
            for (int i = 0; i < 12; i++) {
                f32[i] = (i - 5) / 4f;
            }
            NDArray expected = manager.create(f32, new Shape(3, 4));
            assertAlmostEquals(reader.load("f32", manager), expected, 0, 0);
            assertAlmostEquals(reader.load("bf16", manager), expected, 0, 0);
            assertEquals(DataType.FLOAT16, reader.load("f16", manager).getDataType());
            assertAlmostEquals(reader.load("f16", manager, DataType.FLOAT32), expected, 0, 0);
            assertAlmostEquals(
                    reader.load("f64", manager),
                    manager.create(new double[] {-2, -0.5, 1, 2.5, 4, 5.5}, new Shape(2, 3)),
                    0,
                    0);
            assertArrayEquals(
                    new long[] {
                        0,
                        -1_000_000_000_000L,
                        -2_000_000_000_000L,
                        -3_000_000_000_000L,
                        -4_000_000_000_000L
                    },
                    reader.load("i64", manager).toLongArray());
            assertArrayEquals(
                    new int[] {0, -70_000, -140_000, -210_000},
                    reader.load("i32", manager).toIntArray());
            assertArrayEquals(
                    new byte[] {-128, -1, 0, 127}, reader.load("i8", manager).toByteArray());
            assertArrayEquals(
                    new byte[] {0, 1, (byte) 200, (byte) 255},
                    reader.load("u8", manager).toByteArray());
            assertArrayEquals(
                    new boolean[] {true, false, true},
                    reader.load("bool", manager).toBooleanArray());
            NDArray scalar = reader.load("scalar", manager);
            assertEquals(new Shape(), scalar.getShape());
            assertEquals(3.5f, scalar.getFloat());
            assertEquals(new Shape(0, 4), reader.load("empty", manager).getShape());
        }
    }

    @Test
    void rewritingTheReferenceTensorsReproducesTheReferenceBytes() throws IOException {
        Path reference = referenceFile();
        Path copy = dir.resolve("copy.safetensors");
        try (SafetensorsReader reader = SafetensorsReader.open(reference)) {
            List<TensorSpec> layout = new ArrayList<>();
            for (String key : reader.keys()) {
                TensorInfo info = reader.info(key);
                layout.add(new TensorSpec(key, info.dtype(), info.shape()));
            }
            try (SafetensorsWriter writer =
                    SafetensorsWriter.open(copy, layout, reader.metadata())) {
                for (String key : reader.keys()) {
                    writer.write(
                            key,
                            reader.load(
                                    key, manager)); // bf16 comes back as float32 and is narrowed
                }
                writer.commit();
            }
        }
        assertArrayEquals(Files.readAllBytes(reference), Files.readAllBytes(copy));
    }

    @Test
    void ourHeaderIsCompactJsonPaddedToEightBytesWithContiguousOffsets() throws IOException {
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("b.weight", manager.create(new float[] {1, 2, 3}));
        tensors.put("a\"quoted\\name", manager.create(new long[] {4}));
        tensors.put("scalar", manager.create(5.0));
        Path file = dir.resolve("ours.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt", "author", "peft4j"));
        byte[] bytes = Files.readAllBytes(file);

        long n = TestFiles.headerLength(bytes);
        assertEquals(0, (8 + n) % 8, "data region starts 8-byte aligned");
        String header = TestFiles.header(bytes);
        String json = header.stripTrailing();
        assertTrue(
                header.length() - json.length() < 8 && header.substring(json.length()).isBlank(),
                "padded with fewer than 8 spaces");
        assertEquals(
                "{\"__metadata__\":{\"author\":\"peft4j\",\"format\":\"pt\"},\"b.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"a\\\"quoted\\\\n"
                    + "ame\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]},"
                    + "\"scalar\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[20,28]}}",
                json);

        JsonObject parsed = JsonParser.parseString(json).getAsJsonObject();
        long end = 0;
        for (Map.Entry<String, JsonElement> e : parsed.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonArray offsets = e.getValue().getAsJsonObject().getAsJsonArray("data_offsets");
            assertEquals(end, offsets.get(0).getAsLong(), e.getKey());
            end = offsets.get(1).getAsLong();
        }
        assertEquals(bytes.length - 8 - n, end, "the tensors cover the data region exactly");
        assertArrayEquals(
                TestFiles.concat(TestFiles.le(1f, 2f, 3f), TestFiles.le(4L), TestFiles.le(5.0)),
                TestFiles.data(bytes));
    }

    private static Path referenceFile() {
        try {
            return Path.of(
                    SafetensorsReferenceTest.class.getResource("reference.safetensors").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
