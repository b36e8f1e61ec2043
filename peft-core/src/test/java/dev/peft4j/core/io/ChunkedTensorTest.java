package dev.peft4j.core.io;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The per-tensor chunking that lets tensors and offsets beyond 2 GiB work, exercised with tiny
 * chunk limits instead of huge files, plus one sparse file holding a tensor past the 3 GiB mark.
 */
class ChunkedTensorTest extends IoTestBase {

    private static final long TINY_CHUNK = 64;

    @Test
    void rowsPerChunkSplitsAlongTheFirstAxis() {
        assertEquals(
                3,
                TensorCodec.rowsPerChunk(new Shape(37, 5), 4, 64, "t"),
                "20-byte rows, 64-byte chunks");
        assertEquals(8, TensorCodec.rowsPerChunk(new Shape(10), 8, 64, "t"));
        assertEquals(
                1,
                TensorCodec.rowsPerChunk(new Shape(2, 100), 4, 64, "t"),
                "a row above the limit goes alone");
        assertEquals(16, TensorCodec.rowsPerChunk(new Shape(), 4, 64, "t"), "a scalar is one row");
        assertEquals(
                1L << 28,
                TensorCodec.rowsPerChunk(new Shape(3L << 30), 4, 1L << 30, "t"),
                "long arithmetic");
        UnsupportedOperationException e =
                assertThrows(
                        UnsupportedOperationException.class,
                        () ->
                                TensorCodec.rowsPerChunk(
                                        new Shape(2, 1L << 30), 4, 1L << 30, "huge"));
        assertTrue(e.getMessage().contains("'huge'"), e.getMessage());
    }

    @Test
    void chunkedWritesAndLoadsEqualWholeOnes() throws IOException {
        Random rnd = new Random(3);
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        Map<String, DataType> stored = new LinkedHashMap<>();
        tensors.put("f32", gaussian(rnd, new Shape(37, 5)));
        tensors.put("bf16", gaussian(rnd, new Shape(37, 5)));
        stored.put("bf16", DataType.BFLOAT16);
        tensors.put("f16", gaussian(rnd, new Shape(37, 5)));
        stored.put("f16", DataType.FLOAT16);
        tensors.put("i64", manager.arange(0, 37 * 1000, 1000, DataType.INT64));
        tensors.put("cube", gaussian(rnd, new Shape(9, 4, 3)).toType(DataType.FLOAT64, false));
        tensors.put("wide", gaussian(rnd, new Shape(1, 50)));
        tensors.put("scalar", manager.create(-2.5f));

        Path whole =
                write(
                        dir.resolve("whole.safetensors"),
                        tensors,
                        stored,
                        TensorCodec.DEFAULT_CHUNK_BYTES);
        Path chunked = write(dir.resolve("chunked.safetensors"), tensors, stored, TINY_CHUNK);
        assertArrayEquals(
                Files.readAllBytes(whole),
                Files.readAllBytes(chunked),
                "chunked writing changes no byte");

        try (SafetensorsReader plain = SafetensorsReader.open(whole);
                SafetensorsReader split = SafetensorsReader.open(whole, TINY_CHUNK)) {
            for (String key : plain.keys()) {
                for (DataType target :
                        List.of(plain.info(key).defaultLoadType(), DataType.FLOAT64)) {
                    NDArray a = plain.load(key, manager, target);
                    NDArray b = split.load(key, manager, target);
                    assertEquals(a.getDataType(), b.getDataType(), key);
                    assertArrayEquals(
                            SafetensorsRoundTripTest.rawBytes(a),
                            SafetensorsRoundTripTest.rawBytes(b),
                            key + " as " + target);
                }
            }
            assertAlmostEquals(split.load("f32", manager), tensors.get("f32"), 0, 0);
            assertAlmostEquals(split.load("i64", manager), tensors.get("i64"), 0, 0);
            assertAlmostEquals(split.load("cube", manager), tensors.get("cube"), 0, 0);
            float[] source = tensors.get("bf16").toFloatArray();
            int[] bits = TestFiles.shorts(read(split, "bf16"));
            for (int i = 0; i < source.length; i++) {
                assertEquals(MiniFloat.BFLOAT16.encode(source[i]), bits[i], "bf16 element " + i);
            }
            float[] widened = split.load("bf16", manager).toFloatArray();
            for (int i = 0; i < source.length; i++) {
                assertEquals(
                        (float) MiniFloat.BFLOAT16.decode(bits[i]),
                        widened[i],
                        "widened element " + i);
            }
        }
    }

    @Test
    void tensorPastThreeGibibytesInASparseFileLoads() throws IOException {
        long pad = 3L << 30;
        String header =
                "{\"pad\":{\"dtype\":\"U8\",\"shape\":["
                        + pad
                        + "],\"data_offsets\":[0,"
                        + pad
                        + "]},"
                        + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":["
                        + pad
                        + ","
                        + (pad + 16)
                        + "]}}";
        byte[] head = TestFiles.safetensors(header, new byte[0]);
        Path file = dir.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(head);
            raf.setLength(
                    head.length + pad + 16); // the padding is a hole: no disk used, reads as zeros
            raf.seek(head.length + pad);
            raf.write(TestFiles.le(1f, -2f, 3.5f, 1e-7f));
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file);
                SafetensorsReader chunked = SafetensorsReader.open(file, 8)) {
            TensorInfo tail = reader.info("tail");
            assertEquals(head.length + pad, tail.byteOffset());
            assertTrue(tail.byteOffset() > Integer.MAX_VALUE);
            assertEquals(pad, reader.info("pad").byteLength());
            float[] expected = {1f, -2f, 3.5f, 1e-7f};
            assertArrayEquals(expected, reader.load("tail", manager).toFloatArray());
            assertArrayEquals(expected, chunked.load("tail", manager).toFloatArray());
        }
    }

    private Path write(
            Path file, Map<String, NDArray> tensors, Map<String, DataType> stored, long chunkBytes)
            throws IOException {
        List<TensorSpec> layout = new ArrayList<>();
        tensors.forEach(
                (k, v) ->
                        layout.add(
                                new TensorSpec(
                                        k, stored.getOrDefault(k, v.getDataType()), v.getShape())));
        try (SafetensorsWriter writer =
                SafetensorsWriter.open(file, layout, Map.of("format", "pt"), chunkBytes)) {
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                writer.write(e.getKey(), e.getValue());
            }
            writer.commit();
        }
        return file;
    }

    /** The stored bytes of one tensor, read straight from the file. */
    private static byte[] read(SafetensorsReader reader, String key) throws IOException {
        TensorInfo info = reader.info(key);
        byte[] all = Files.readAllBytes(reader.file());
        int from = Math.toIntExact(info.byteOffset());
        return Arrays.copyOfRange(all, from, from + Math.toIntExact(info.byteLength()));
    }
}
