package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.bone.BoneConfig;
import dev.peft4j.adapters.flora.FloraConfig;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.nola.NolaConfig;
import dev.peft4j.adapters.pego.PegoConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.testing.TinyModels;
import java.nio.file.Path;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code peft inspect} shows every registered method: its type, each adapted module, the trainable count. */
class InspectEveryMethodTest {

    @TempDir Path tmp;

    static Stream<Supplier<AdapterConfig>> configs() {
        String[] t = {"query", "value"};
        return Stream.of(
                () -> LoraConfig.builder().optRank(2).setTargetModules(t).build(),
                () -> NolaConfig.builder().optRank(2).optNumBases(5, 3).setTargetModules(t).build(),
                () -> BoneConfig.builder().optRank(4).setTargetModules(t).build(),
                () ->
                        BoneConfig.builder()
                                .optRank(4)
                                .optVariant(BoneConfig.Variant.BAT)
                                .setTargetModules(t)
                                .build(),
                () -> FloraConfig.builder().optRank(2).setTargetModules(t).build(),
                () -> PegoConfig.builder().optRank(2).setTargetModules(t).build());
    }

    @ParameterizedTest
    @MethodSource("configs")
    void inspectListsEveryAdaptedModuleAndTheTrainableCount(Supplier<AdapterConfig> config)
            throws Exception {
        Path dir = tmp.resolve("adapter");
        long trainable;
        String type;
        try (NDManager m = NDManager.newBaseManager()) {
            PeftModel pm = PeftModel.create(TinyModels.transformer(m, 1).block(), config.get());
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
