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
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** ShardedCheckpointWriter output read back through CheckpointReader, and the reader's index checks. */
class CheckpointTest extends IoTestBase {

    private static final long SHARD_LIMIT = 150;
    private static final Map<String, String> PT = Map.of("format", "pt");

    private LinkedHashMap<String, NDArray> tensors;
    private Map<String, DataType> storedAs;

    @BeforeEach
    void setUp() {
        Random rnd = new Random(5);
        tensors = new LinkedHashMap<>();
        storedAs = new LinkedHashMap<>();
        // data bytes, filling shards of at most 150 bytes in write order:
        // embed 128 | norm 32 + half 20 + ids 24 + mask 5 = 81 | big 160 (alone, above the limit) |
        // scale 4
        tensors.put("embed", gaussian(rnd, new Shape(4, 8)));
        tensors.put("norm", gaussian(rnd, new Shape(16)));
        storedAs.put("norm", DataType.BFLOAT16);
        tensors.put("half", gaussian(rnd, new Shape(10)).toType(DataType.FLOAT16, false));
        tensors.put("ids", manager.create(rnd.longs(3).toArray()));
        tensors.put(
                "mask", manager.create(new byte[] {1, 2, 3, 4, 5}).toType(DataType.UINT8, false));
        tensors.put("big", gaussian(rnd, new Shape(40)));
        tensors.put("scale", manager.create(0.125f));
    }

    @Test
    void shardsRespectTheLimitAndReadBackThroughTheIndex() throws IOException {
        Path out = dir.resolve("merged");
        writeCheckpoint(out, SHARD_LIMIT);

        List<List<String>> groups =
                List.of(
                        List.of("embed"),
                        List.of("norm", "half", "ids", "mask"),
                        List.of("big"),
                        List.of("scale"));
        String[] names = new String[groups.size()];
        for (int i = 0; i < names.length; i++) {
            names[i] = String.format("model-%05d-of-00004.safetensors", i + 1);
        }
        List<String> expectedListing = new ArrayList<>(List.of(names));
        expectedListing.add("config.json");
        expectedListing.add(CheckpointReader.INDEX_FILE);
        assertArrayEquals(expectedListing.stream().sorted().toArray(), TestFiles.list(out));
        assertArrayEquals(
                new String[] {"merged"}, TestFiles.list(dir), "no staging or spill files left");

        JsonObject index =
                JsonParser.parseString(Files.readString(out.resolve(CheckpointReader.INDEX_FILE)))
                        .getAsJsonObject();
        assertEquals(
                128 + 32 + 20 + 24 + 5 + 160 + 4,
                index.getAsJsonObject("metadata").get("total_size").getAsLong());
        JsonObject weightMap = index.getAsJsonObject("weight_map");
        assertEquals(
                List.of("big", "embed", "half", "ids", "mask", "norm", "scale"),
                List.copyOf(weightMap.keySet()),
                "weight_map sorted by name");
        for (int i = 0; i < groups.size(); i++) {
            try (SafetensorsReader shard = SafetensorsReader.open(out.resolve(names[i]))) {
                assertEquals(groups.get(i), shard.keys());
                assertEquals(PT, shard.metadata());
                for (String key : groups.get(i)) {
                    assertEquals(names[i], weightMap.get(key).getAsString(), key);
                }
            }
        }

        try (CheckpointReader reader =
                CheckpointReader.open(out, 1, TensorCodec.DEFAULT_CHUNK_BYTES)) {
            assertEquals(List.copyOf(tensors.keySet()), reader.keys());
            assertEquals(out.resolve(names[1]), reader.shardOf("ids"));
            List<String> reversed = new ArrayList<>(reader.keys());
            Collections.reverse(reversed); // reopens evicted shards
            for (String key : reversed) {
                assertTensorMatches(key, reader);
            }
        }
    }

    @Test
    void oneShardBecomesModelSafetensorsWithoutIndex() throws IOException {
        Path out = dir.resolve("small");
        writeCheckpoint(out, ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES);
        assertArrayEquals(
                new String[] {"config.json", CheckpointReader.SINGLE_FILE}, TestFiles.list(out));
        try (CheckpointReader reader = CheckpointReader.open(out)) {
            assertEquals(List.of(out.resolve(CheckpointReader.SINGLE_FILE)), reader.shards());
            assertEquals(List.copyOf(tensors.keySet()), reader.keys());
            for (String key : reader.keys()) {
                assertTensorMatches(key, reader);
            }
        }
    }

    @Test
    void interruptedWriteKeepsThePreviousCheckpoint() throws IOException {
        Path out = dir.resolve("model");
        writeCheckpoint(out, SHARD_LIMIT);
        Map<String, byte[]> before = snapshot(out);
        assertThrows(
                IllegalStateException.class,
                () -> {
                    try (ShardedCheckpointWriter writer =
                            ShardedCheckpointWriter.open(out, SHARD_LIMIT, PT)) {
                        writer.write("embed", tensors.get("embed"));
                        writer.write("big", tensors.get("big"));
                        throw new IllegalStateException("merge failed");
                    }
                });
        Map<String, byte[]> after = snapshot(out);
        assertEquals(before.keySet(), after.keySet());
        before.forEach((name, bytes) -> assertArrayEquals(bytes, after.get(name), name));
        assertArrayEquals(new String[] {"model"}, TestFiles.list(dir));
    }

    @Test
    void indexNamingAMissingShardIsReported() throws IOException {
        Path out = dir.resolve("m");
        writeCheckpoint(out, SHARD_LIMIT);
        Files.delete(out.resolve("model-00002-of-00004.safetensors"));
        CheckpointFormatException e =
                assertThrows(CheckpointFormatException.class, () -> CheckpointReader.open(out));
        assertEquals(out.resolve(CheckpointReader.INDEX_FILE), e.file());
        assertEquals("half", e.tensor());
        assertTrue(
                e.getMessage().contains("'model-00002-of-00004.safetensors', which does not exist"),
                e.getMessage());
    }

    @Test
    void tensorListedInTheIndexButAbsentFromItsShardIsReported() throws IOException {
        Path out = dir.resolve("m");
        writeCheckpoint(out, SHARD_LIMIT);
        editIndex(out, "embed", "model-00002-of-00004.safetensors");
        CheckpointFormatException e =
                assertThrows(CheckpointFormatException.class, () -> CheckpointReader.open(out));
        assertEquals(out.resolve("model-00002-of-00004.safetensors"), e.file());
        assertEquals("embed", e.tensor());
        assertTrue(
                e.getMessage().contains("listed in " + out.resolve(CheckpointReader.INDEX_FILE)),
                e.getMessage());
    }

    @Test
    void weightMapEntriesMustBeFileNamesBesideTheIndex() throws IOException {
        Path out = dir.resolve("m");
        writeCheckpoint(out, SHARD_LIMIT);
        editIndex(out, "ids", "../elsewhere.safetensors");
        CheckpointFormatException e =
                assertThrows(CheckpointFormatException.class, () -> CheckpointReader.open(out));
        assertEquals("ids", e.tensor());
        assertTrue(
                e.getMessage().contains("not the file name of a shard in the same folder"),
                e.getMessage());
        Files.writeString(out.resolve(CheckpointReader.INDEX_FILE), "{\"metadata\":{}}");
        CheckpointFormatException none =
                assertThrows(CheckpointFormatException.class, () -> CheckpointReader.open(out));
        assertTrue(none.getMessage().contains("no \"weight_map\" object"), none.getMessage());
    }

    @Test
    void folderWithoutCheckpointAndUnknownKeysGiveClearErrors() throws IOException {
        Path empty = Files.createDirectory(dir.resolve("empty"));
        NoSuchFileException missing =
                assertThrows(NoSuchFileException.class, () -> CheckpointReader.open(empty));
        assertTrue(
                missing.getMessage().contains(CheckpointReader.INDEX_FILE)
                        && missing.getMessage().contains(CheckpointReader.SINGLE_FILE),
                missing.getMessage());
        Path out = dir.resolve("m");
        writeCheckpoint(out, SHARD_LIMIT);
        try (CheckpointReader reader = CheckpointReader.open(out)) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> reader.info("embedd"));
            assertTrue(
                    e.getMessage().contains(CheckpointReader.INDEX_FILE)
                            && e.getMessage().contains("closest names: embed"),
                    e.getMessage());
        }
    }

    @Test
    void shardReplacedOnDiskAfterOpeningIsDetected() throws IOException {
        Path out = dir.resolve("m");
        writeCheckpoint(out, SHARD_LIMIT);
        try (CheckpointReader reader =
                CheckpointReader.open(out, 1, TensorCodec.DEFAULT_CHUNK_BYTES)) {
            Path first = out.resolve("model-00001-of-00004.safetensors");
            LinkedHashMap<String, NDArray> other = new LinkedHashMap<>();
            other.put("embed", manager.zeros(new Shape(8, 4)));
            SafetensorsWriter.write(first, other, PT);
            CheckpointFormatException e =
                    assertThrows(
                            CheckpointFormatException.class, () -> reader.load("embed", manager));
            assertEquals(first, e.file());
            assertTrue(e.getMessage().contains("changed on disk"), e.getMessage());
        }
    }

    private void writeCheckpoint(Path out, long limit) throws IOException {
        try (ShardedCheckpointWriter writer = ShardedCheckpointWriter.open(out, limit, PT)) {
            Files.writeString(writer.stagingDirectory().resolve("config.json"), "{}");
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                writer.write(
                        e.getKey(),
                        e.getValue(),
                        storedAs.getOrDefault(e.getKey(), e.getValue().getDataType()));
            }
            writer.commit();
        }
        assertFalse(Files.exists(out.resolve(".shard-00001.data")));
    }

    private void assertTensorMatches(String key, TensorSource source) throws IOException {
        NDArray original = tensors.get(key);
        try (NDArray loaded = source.load(key, manager)) {
            if (storedAs.get(key) == DataType.BFLOAT16) {
                float[] expected = original.toFloatArray();
                for (int i = 0; i < expected.length; i++) {
                    expected[i] =
                            (float)
                                    MiniFloat.BFLOAT16.decode(
                                            MiniFloat.BFLOAT16.encode(expected[i]));
                }
                assertAlmostEquals(loaded, manager.create(expected, original.getShape()), 0, 0);
            } else {
                assertEquals(original.getDataType(), loaded.getDataType(), key);
                assertAlmostEquals(loaded, original, 0, 0);
            }
        }
    }

    private static void editIndex(Path out, String key, String shard) throws IOException {
        Path index = out.resolve(CheckpointReader.INDEX_FILE);
        JsonObject json = JsonParser.parseString(Files.readString(index)).getAsJsonObject();
        json.getAsJsonObject("weight_map").addProperty(key, shard);
        Files.writeString(index, json.toString());
    }

    private static Map<String, byte[]> snapshot(Path folder) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        for (String name : TestFiles.list(folder)) {
            files.put(name, Files.readAllBytes(folder.resolve(name)));
        }
        return files;
    }
}
