package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.testing.TinyModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {

    @TempDir Path tmp;

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void inspectReportsMethodShapesAndTheTrainableCount() throws Exception {
        long trainable;
        Path dir = tmp.resolve("adapter");
        try (NDManager m = NDManager.newBaseManager()) {
            TinyModels.TinyModel t = TinyModels.transformer(m, 1);
            PeftModel pm =
                    PeftModel.create(
                            t.block(),
                            LoraConfig.builder()
                                    .optRank(4)
                                    .optAlpha(8)
                                    .setTargetModules("query", "value")
                                    .optModulesToSave("head")
                                    .build());
            trainable = pm.trainableParameterCount();
            pm.save(dir);
        }
        CliRun r = run("inspect", dir.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals("LORA", o.get("peft_type").getAsString());
        assertEquals(trainable, o.get("parameters").getAsLong());
        JsonObject modules = o.getAsJsonObject("modules");
        assertEquals(4, modules.size());
        assertEquals(
                "[4,12]",
                modules.getAsJsonObject("layers.1.value").get("lora_A.weight").toString());
        assertEquals(
                "[12,4]",
                modules.getAsJsonObject("layers.0.query").get("lora_B.weight").toString());
        assertEquals("[6,12]", o.getAsJsonObject("modules_to_save").get("head.weight").toString());

        CliRun text = run("inspect", dir.toString());
        assertEquals(0, text.code());
        assertTrue(text.out().contains("method:     LORA"), text.out());
        assertTrue(
                text.out()
                        .contains(
                                "layers.0.query  lora_A.weight [4, 12] float32  lora_B.weight [12,"
                                        + " 4] float32"),
                text.out());
    }

    /**
     * A config whose r (or rank_pattern) disagrees with the saved tensors is refused by inspect
     * and merge, naming the module, the config's rank and the tensor shapes; the config left as
     * saved is accepted (PEFT refuses such a folder with a size mismatch at load).
     */
    @Test
    void aConfigRankThatDisagreesWithItsTensorsIsRefused() throws Exception {
        Path dir = tmp.resolve("adapter");
        try (NDManager m = NDManager.newBaseManager()) {
            TinyModels.TinyModel t = TinyModels.transformer(m, 1);
            PeftModel.create(
                            t.block(),
                            LoraConfig.builder()
                                    .optRank(4)
                                    .setTargetModules("query", "value")
                                    .build())
                    .save(dir);
        }
        Path config = dir.resolve("adapter_config.json");
        JsonObject saved = JsonIO.readObject(config);
        saved.addProperty("r", 8);
        JsonIO.writeSorted(config, saved);
        CliRun r = run("inspect", dir.toString());
        assertEquals(2, r.code());
        assertTrue(
                r.err().contains("module 'layers.0.query'")
                        && r.err().contains("rank 8 (r)")
                        && r.err().contains("(4, 12)"),
                r.err());
        saved.addProperty("r", 4);
        JsonObject pattern = new JsonObject();
        pattern.addProperty("value", 2);
        saved.add("rank_pattern", pattern);
        JsonIO.writeSorted(config, saved);
        r = run("inspect", dir.toString());
        assertEquals(2, r.code());
        assertTrue(
                r.err().contains("module 'layers.0.value'")
                        && r.err().contains("rank 2 (rank_pattern)"),
                r.err());
        saved.add("rank_pattern", new JsonObject());
        JsonIO.writeSorted(config, saved);
        assertEquals(0, run("inspect", dir.toString()).code());
    }

    @Test
    void aMissingFolderIsOneClearErrorLine() {
        CliRun r = run("inspect", tmp.resolve("nope").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope") && r.err().contains("adapter_config.json"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void verboseAddsTheStackTraceBeforeOrAfterTheSubcommand() {
        String missing = tmp.resolve("nope").toString();
        for (String[] args :
                new String[][] {{"-v", "inspect", missing}, {"inspect", missing, "--verbose"}}) {
            CliRun r = run(args);
            assertEquals(2, r.code());
            List<String> lines = r.err().strip().lines().toList();
            assertTrue(
                    lines.get(0).startsWith("peft inspect: ") && lines.get(0).contains("nope"),
                    r.err());
            assertTrue(lines.size() > 2 && lines.get(1).contains("Exception"), r.err());
            assertTrue(
                    lines.stream().anyMatch(l -> l.strip().startsWith("at dev.peft4j.")), r.err());
        }
    }
}
