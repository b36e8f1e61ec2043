package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code peft inspect} shows every catalogue row (every method and initializer): its type, each
 * adapted module, the trainable count.
 */
class InspectEveryMethodTest {

    @TempDir Path tmp;

    static Stream<Entry> configs() {
        return MethodCatalogue.tinyRows().stream();
    }

    @ParameterizedTest
    @MethodSource("configs")
    void inspectListsEveryAdaptedModuleAndTheTrainableCount(Entry row) throws Exception {
        Path dir = tmp.resolve("adapter");
        long trainable;
        String type;
        try (NDManager m = NDManager.newBaseManager()) {
            PeftModel pm =
                    PeftModel.create(
                            TinyModels.transformer(m, 1).block(),
                            row.tinyConfig(List.of("query", "value")));
            trainable = pm.trainableParameterCount();
            type = pm.config(PeftModel.DEFAULT).peftType();
            pm.save(dir);
        }
        CliRun r = CliRun.of("inspect", dir.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals(type, o.get("peft_type").getAsString());
        assertEquals(trainable, o.get("parameters").getAsLong());
        JsonObject modules = o.getAsJsonObject("modules");
        assertEquals(4, modules.size(), modules.toString());
        for (String path :
                new String[] {
                    "layers.0.query", "layers.0.value", "layers.1.query", "layers.1.value"
                }) {
            assertTrue(modules.has(path), path + " in " + modules);
        }
        assertEquals(0, o.getAsJsonObject("modules_to_save").size());
    }
}
