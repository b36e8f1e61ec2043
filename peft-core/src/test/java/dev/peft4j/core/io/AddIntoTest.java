package dev.peft4j.core.io;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TensorSource#addInto} straight from the mapped file (float32, bfloat16 widened into a
 * staging buffer) adds exactly what loading the tensor and adding it does; float16 takes the
 * loading fallback.
 */
class AddIntoTest extends ManagedTest {

    @Test
    void addingFromTheMappingEqualsLoadingAndAdding(@TempDir Path tmp) throws IOException {
        Map<String, DataType> stored =
                Map.of("f32", DataType.FLOAT32, "bf16", DataType.BFLOAT16, "f16", DataType.FLOAT16);
        try (ShardedCheckpointWriter w =
                ShardedCheckpointWriter.open(tmp.resolve("m"), 1L << 30, Map.of())) {
            int seed = 1;
            for (Map.Entry<String, DataType> e : stored.entrySet()) {
                w.write(
                        e.getKey(),
                        TinyModels.input(manager, new Shape(37, 11), seed++),
                        e.getValue());
            }
            w.commit();
        }
        try (CheckpointReader r = CheckpointReader.open(tmp.resolve("m"))) {
            for (String key : stored.keySet()) {
                NDArray start = TinyModels.input(manager, new Shape(37, 11), 100);
                NDArray viaMapping = start.duplicate();
                r.addInto(key, viaMapping);
                NDArray viaLoad = start.add(r.load(key, manager, DataType.FLOAT32));
                assertAlmostEquals(viaMapping, viaLoad, 0, 0);
            }
        }
    }
}
