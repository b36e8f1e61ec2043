package dev.peft4j.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrefixedSourceTest {

    @TempDir Path tmp;

    @Test
    void namesCarryThePrefixAndValuesAreTheSources() throws Exception {
        Path file = tmp.resolve("m.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            LinkedHashMap<String, NDArray> t = new LinkedHashMap<>();
            t.put("encoder.w", m.create(new float[] {1, 2, 3}));
            t.put("pooler.b", m.create(new float[] {4}));
            SafetensorsWriter.write(file, t, Map.of());
            try (PrefixedSource s = new PrefixedSource(SafetensorsReader.open(file), "bert.")) {
                assertEquals(List.of("bert.encoder.w", "bert.pooler.b"), s.keys());
                assertTrue(s.contains("bert.encoder.w"));
                assertFalse(s.contains("encoder.w"));
                assertEquals("bert.pooler.b", s.info("bert.pooler.b").name());
                assertArrayEquals(
                        new float[] {1, 2, 3}, s.load("bert.encoder.w", m).toFloatArray());
                IllegalArgumentException e =
                        assertThrows(IllegalArgumentException.class, () -> s.info("encoder.w"));
                assertTrue(e.getMessage().contains("bert."), e.getMessage());
            }
        }
    }
}
