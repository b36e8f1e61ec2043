package dev.peft4j.core.io;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Writes tensors of every dtype with SafetensorsWriter and reads them back, bit for bit. */
class SafetensorsRoundTripTest extends IoTestBase {

    @Test
    void everyDtypeRoundTripsBitExactlyAndTheFileHoldsTheLittleEndianBytes() throws IOException {
        Random rnd = new Random(7);
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        LinkedHashMap<String, byte[]> expected = new LinkedHashMap<>();
        double[] f64 = rnd.doubles(6).map(d -> (d - 0.5) * 1e6).toArray();
        add(tensors, expected, "f64", manager.create(f64, new Shape(2, 3)), TestFiles.le(f64));
        float[] f32 = MiniFloat.roundingCases(8, 4);
        add(
                tensors,
                expected,
                "f32",
                manager.create(f32, new Shape(f32.length)),
                TestFiles.le(f32));
        int[] halfBits = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x3555};
        add(
                tensors,
                expected,
                "f16",
                fromBits(halfBits, DataType.FLOAT16),
                TestFiles.le16(halfBits));
        long[] i64 = rnd.longs(5).toArray();
        add(tensors, expected, "i64", manager.create(i64, new Shape(5)), TestFiles.le(i64));
        int[] i32 = rnd.ints(8).toArray();
        add(tensors, expected, "i32", manager.create(i32, new Shape(2, 2, 2)), TestFiles.le(i32));
        byte[] bytes = new byte[7];
        rnd.nextBytes(bytes);
        add(tensors, expected, "i8", bytesOf(bytes, DataType.INT8), bytes);
        add(tensors, expected, "u8", bytesOf(bytes, DataType.UINT8), bytes);
        byte[] bools = {1, 0, 0, 1, 1};
        add(tensors, expected, "bool", bytesOf(bools, DataType.BOOLEAN), bools);

        Path file = dir.resolve("all.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));

        byte[] written = Files.readAllBytes(file);
        assertArrayEquals(
                TestFiles.concat(expected.values().toArray(new byte[0][])),
                TestFiles.data(written));
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(List.copyOf(tensors.keySet()), reader.keys());
            assertEquals(Map.of("format", "pt"), reader.metadata());
            for (String key : tensors.keySet()) {
                NDArray source = tensors.get(key);
                TensorInfo info = reader.info(key);
                assertEquals(source.getDataType(), info.dtype(), key);
                assertEquals(source.getShape(), info.shape(), key);
                try (NDArray loaded = reader.load(key, manager)) {
                    assertEquals(source.getDataType(), loaded.getDataType(), key);
                    assertEquals(source.getShape(), loaded.getShape(), key);
                    assertArrayEquals(expected.get(key), rawBytes(loaded), key);
                }
            }
        }
    }

    @Test
    void float32StoredAsBf16RoundsToNearestEvenAndWidensBackExactly() throws IOException {
        float[] values = MiniFloat.roundingCases(11, 300);
        float[] withNaN = Arrays.copyOf(values, values.length + 1);
        withNaN[values.length] = Float.NaN;
        byte[] data = storeAs(withNaN, DataType.BFLOAT16);

        int[] stored = TestFiles.shorts(data);
        for (int i = 0; i < values.length; i++) {
            assertEquals(
                    MiniFloat.BFLOAT16.encode(values[i]), stored[i], "bf16 bits of " + values[i]);
        }
        assertEquals(
                0x7FC0,
                stored[values.length],
                "NaN becomes the canonical quiet NaN, as in PyTorch");

        try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve("x.safetensors"));
                NDArray loaded = reader.load("x", manager)) {
            assertEquals(
                    DataType.FLOAT32, loaded.getDataType(), "BF16 widens to FLOAT32 by default");
            assertAlmostEquals(loaded, manager.create(decode(MiniFloat.BFLOAT16, stored)), 0, 0);
        }
    }

    @Test
    void float32StoredAsF16MatchesIndependentRoundingAndLoadsAsFloat16() throws IOException {
        float[] values = MiniFloat.roundingCases(12, 300);
        int[] stored = TestFiles.shorts(storeAs(values, DataType.FLOAT16));
        for (int i = 0; i < values.length; i++) {
            assertEquals(
                    MiniFloat.FLOAT16.encode(values[i]), stored[i], "f16 bits of " + values[i]);
        }
        try (SafetensorsReader reader = SafetensorsReader.open(dir.resolve("x.safetensors"))) {
            try (NDArray half = reader.load("x", manager)) {
                assertEquals(
                        DataType.FLOAT16, half.getDataType(), "F16 stays float16 unless asked");
                assertArrayEquals(TestFiles.le16(stored), rawBytes(half));
            }
            try (NDArray widened = reader.load("x", manager, DataType.FLOAT32)) {
                assertAlmostEquals(
                        widened, manager.create(decode(MiniFloat.FLOAT16, stored)), 0, 0);
            }
        }
    }

    @Test
    void loadConvertsToTheRequestedType() throws IOException {
        int[] ints = {-70000, -1, 0, 1, 16777217};
        double[] doubles = {0.1, -1e-30, 123456.789, 1e300};
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("ints", manager.create(ints));
        tensors.put("doubles", manager.create(doubles));
        Path file = dir.resolve("c.safetensors");
        SafetensorsWriter.write(file, tensors, null);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertEquals(Map.of(), reader.metadata(), "no metadata written when none given");
            NDArray asDouble = reader.load("ints", manager, DataType.FLOAT64);
            assertEquals(DataType.FLOAT64, asDouble.getDataType());
            assertAlmostEquals(
                    asDouble.toDoubleArray(), Arrays.stream(ints).asDoubleStream().toArray(), 0, 0);
            NDArray asLong = reader.load("ints", manager, DataType.INT64);
            assertArrayEquals(Arrays.stream(ints).asLongStream().toArray(), asLong.toLongArray());
            NDArray asFloat = reader.load("doubles", manager, DataType.FLOAT32);
            float[] expected = new float[doubles.length];
            for (int i = 0; i < doubles.length; i++) {
                expected[i] = (float) doubles[i]; // Java's narrowing is IEEE round-to-nearest-even
            }
            assertArrayEquals(expected, asFloat.toFloatArray());
        }
    }

    @Test
    void bfloat16TargetsAndUnsupportedTypesFailWithClearMessages() throws IOException {
        Path file = dir.resolve("b.safetensors");
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("w", manager.create(new float[] {1, 2}));
        SafetensorsWriter.write(file, tensors, null);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> reader.load("w", manager, DataType.BFLOAT16));
            assertTrue(
                    e.getMessage().contains("'w'") && e.getMessage().contains("BFLOAT16"),
                    e.getMessage());
        }
        IllegalArgumentException spec =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> new TensorSpec("u", DataType.UINT16, new Shape(2)));
        assertTrue(
                spec.getMessage().contains("'u'") && spec.getMessage().contains("uint16"),
                spec.getMessage());
        Path ints = dir.resolve("i.safetensors");
        try (SafetensorsWriter writer =
                SafetensorsWriter.open(
                        ints,
                        List.of(new TensorSpec("n", DataType.BFLOAT16, new Shape(2))),
                        null)) {
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> writer.write("n", manager.create(new int[] {1, 2})));
            assertTrue(
                    e.getMessage().contains("'n'") && e.getMessage().contains("BF16"),
                    e.getMessage());
        }
        assertFalse(Files.exists(ints));
    }

    @Test
    void writerEnforcesTheDeclaredLayoutAndPublishesNothingUntilCommit() throws IOException {
        Path file = dir.resolve("w.safetensors");
        List<TensorSpec> layout =
                List.of(
                        new TensorSpec("a", DataType.FLOAT32, new Shape(2)),
                        new TensorSpec("b", DataType.FLOAT32, new Shape(3)));
        try (SafetensorsWriter writer =
                SafetensorsWriter.open(file, layout, Map.of("format", "pt"))) {
            IllegalArgumentException order =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> writer.write("b", manager.zeros(new Shape(3))));
            assertTrue(
                    order.getMessage().contains("'a'") && order.getMessage().contains("'b'"),
                    order.getMessage());
            IllegalArgumentException shape =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> writer.write("a", manager.zeros(new Shape(3))));
            assertTrue(
                    shape.getMessage().contains("(2)") && shape.getMessage().contains("(3)"),
                    shape.getMessage());
            writer.write("a", manager.ones(new Shape(2)));
            IllegalStateException early = assertThrows(IllegalStateException.class, writer::commit);
            assertTrue(early.getMessage().contains("'b'"), early.getMessage());
            assertFalse(Files.exists(file));
        }
        assertArrayEquals(new String[0], TestFiles.list(dir), "the temporary file is gone");
        IllegalArgumentException dup =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                SafetensorsWriter.open(
                                        file, List.of(layout.get(0), layout.get(0)), null));
        assertTrue(dup.getMessage().contains("'a'"), dup.getMessage());
    }

    @Test
    void unknownKeyErrorNamesTheFileAndCloseNames() throws IOException {
        Path file = dir.resolve("k.safetensors");
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        for (String name :
                List.of(
                        "layer.0.q_proj.weight",
                        "layer.0.k_proj.weight",
                        "layer.1.q_proj.weight",
                        "embed.weight",
                        "norm.bias")) {
            tensors.put(name, manager.zeros(new Shape(1)));
        }
        SafetensorsWriter.write(file, tensors, null);
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            assertFalse(reader.contains("layer.0.q_prj.weight"));
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> reader.info("layer.0.q_prj.weight"));
            String m = e.getMessage();
            assertTrue(m.contains(file.toString()) && m.contains("'layer.0.q_prj.weight'"), m);
            assertTrue(
                    m.contains(
                            "closest names: layer.0.q_proj.weight, layer.0.k_proj.weight,"
                                    + " layer.1.q_proj.weight"),
                    m);
        }
    }

    private void add(
            Map<String, NDArray> tensors,
            Map<String, byte[]> expected,
            String name,
            NDArray array,
            byte[] bytes) {
        tensors.put(name, array);
        expected.put(name, bytes);
    }

    private NDArray fromBits(int[] bits, DataType type) {
        short[] s = new short[bits.length];
        for (int i = 0; i < bits.length; i++) {
            s[i] = (short) bits[i];
        }
        return manager.create(ShortBuffer.wrap(s), new Shape(s.length), type);
    }

    private NDArray bytesOf(byte[] bytes, DataType type) {
        return manager.create(ByteBuffer.wrap(bytes), new Shape(bytes.length), type);
    }

    /** Writes {@code values} as one float32 tensor "x" declared as {@code stored}; returns the file's data bytes. */
    private byte[] storeAs(float[] values, DataType stored) throws IOException {
        Path file = dir.resolve("x.safetensors");
        try (SafetensorsWriter writer =
                SafetensorsWriter.open(
                        file,
                        List.of(new TensorSpec("x", stored, new Shape(values.length))),
                        Map.of("format", "pt"))) {
            writer.write("x", manager.create(values));
            writer.commit();
        }
        return TestFiles.data(Files.readAllBytes(file));
    }

    private static float[] decode(MiniFloat format, int[] bits) {
        List<Float> out = new ArrayList<>();
        for (int b : bits) {
            out.add((float) format.decode(b));
        }
        float[] f = new float[out.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = out.get(i);
        }
        return f;
    }

    static byte[] rawBytes(NDArray array) {
        ByteBuffer b = array.toByteBuffer();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
