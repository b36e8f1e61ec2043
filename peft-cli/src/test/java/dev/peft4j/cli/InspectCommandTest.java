package dev.peft4j.cli;

import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.TinyModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InspectCommandTest {

    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {}

    private static Result run(String... args) {
        CommandLine cl = PeftCli.commandLine();
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            int code = cl.execute(args);
            return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(old);
        }
    }

    @Test
    void inspectReportsMethodShapesAndTheTrainableCount() throws Exception {
        long trainable;
        Path dir = tmp.resolve("adapter");
        try (NDManager m = NDManager.newBaseManager()) {
            TinyModels.TinyModel t = TinyModels.transformer(m, 1);
            PeftModel pm = PeftModel.create(t.block(), LoraConfig.builder().setRank(4).optAlpha(8)
                    .setTargetModules("query", "value").optModulesToSave("head").build());
            trainable = pm.trainableParameterCount();
            pm.save(dir);
        }
        Result r = run("inspect", dir.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonObject o = JsonParser.parseString(r.out()).getAsJsonObject();
        assertEquals("LORA", o.get("peft_type").getAsString());
        assertEquals(trainable, o.get("parameters").getAsLong());
        JsonObject modules = o.getAsJsonObject("modules");
        assertEquals(4, modules.size());
        assertEquals("[4,12]", modules.getAsJsonObject("layers.1.value").get("lora_A.weight").toString());
        assertEquals("[12,4]", modules.getAsJsonObject("layers.0.query").get("lora_B.weight").toString());
        assertEquals("[6,12]", o.getAsJsonObject("modules_to_save").get("head.weight").toString());

        Result text = run("inspect", dir.toString());
        assertEquals(0, text.code());
        assertTrue(text.out().contains("method:     LORA"), text.out());
        assertTrue(text.out().contains("layers.0.query  lora_A.weight [4, 12] float32  lora_B.weight [12, 4] float32"),
                text.out());
    }

    @Test
    void aMissingFolderIsOneClearErrorLine() {
        Result r = run("inspect", tmp.resolve("nope").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("nope") && r.err().contains("adapter_config.json"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
