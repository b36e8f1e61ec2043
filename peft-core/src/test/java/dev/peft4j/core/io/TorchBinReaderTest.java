package dev.peft4j.core.io;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PyTorch checkpoints written as torch.save writes them ({@code torch_bin_fixture.py}): tensors
 * sharing one storage at offsets, float16, bfloat16 and int64, a state dict with {@code
 * _metadata}, sharded with an index; a pickle that names {@code os.system} is refused without
 * running anything, and so is the legacy format.
 */
class TorchBinReaderTest extends ManagedTest {

    private static Path fixture() {
        try {
            return Paths.get(TorchBinReaderTest.class.getResource("torch/expected.json").toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"pytorch_model.bin", "sharded"})
    void readsTheStateDictAsTorchWroteIt(String name) throws IOException {
        JsonObject want = JsonArrays.resource(TorchBinReaderTest.class, "torch/expected.json");
        Path location = name.equals("sharded") ? fixture().resolve("sharded") : fixture();
        try (TensorSource r = Checkpoints.open(location)) {
            assertInstanceOf(TorchBinReader.class, r);
            assertEquals(
                    List.of(
                            "layer.q.weight",
                            "layer.k.weight",
                            "norm.weight",
                            "head.weight",
                            "position_ids"),
                    r.keys());
            assertEquals(DataType.FLOAT16, r.info("norm.weight").dtype());
            assertEquals(DataType.BFLOAT16, r.info("head.weight").dtype());
            assertEquals(new Shape(4, 4), r.info("layer.k.weight").shape());
            for (String key : want.keySet()) {
                NDArray x = r.load(key, manager, DataType.FLOAT32);
                assertAlmostEquals(x, JsonArrays.array(manager, want.getAsJsonArray(key)), 0, 0);
            }
            assertEquals(DataType.INT64, r.load("position_ids", manager).getDataType());
            assertEquals(6L, r.load("position_ids", manager).toLongArray()[6]);
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> r.info("layer.v.weight"));
            assertTrue(e.getMessage().contains("layer.v.weight"), e.getMessage());
        }
    }

    @Test
    void aPickleThatCallsAnythingButTensorsIsRefusedUnrun(
            @org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path evil = Files.copy(fixture().resolve("evil.bin"), tmp.resolve("evil.bin"));
        CheckpointFormatException e =
                assertThrows(CheckpointFormatException.class, () -> TorchBinReader.open(evil));
        assertTrue(
                e.getMessage().contains("evil.bin") && e.getMessage().contains("system"),
                e.getMessage());
        assertFalse(Files.exists(tmp.resolve("pwned.txt")));
        assertFalse(Files.exists(Path.of("pwned.txt")));

        e =
                assertThrows(
                        CheckpointFormatException.class,
                        () -> TorchBinReader.open(fixture().resolve("legacy.bin")));
        assertTrue(e.getMessage().contains("legacy"), e.getMessage());
    }

    @Test
    void safetensorsIsPreferredWhenBothAreThere(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws IOException {
        Files.copy(fixture().resolve("pytorch_model.bin"), tmp.resolve("pytorch_model.bin"));
        try (TensorSource r = Checkpoints.open(tmp)) {
            assertInstanceOf(TorchBinReader.class, r);
        }
        java.util.LinkedHashMap<String, NDArray> one = new java.util.LinkedHashMap<>();
        one.put("x", manager.ones(new Shape(2)));
        SafetensorsWriter.write(tmp.resolve("model.safetensors"), one, java.util.Map.of());
        try (TensorSource r = Checkpoints.open(tmp)) {
            assertInstanceOf(CheckpointReader.class, r);
        }
    }
}
