package dev.peft4j.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** JsonIO writes what Python's json.dumps(indent=2, sort_keys=True) writes (see make_json_reference.py). */
class JsonIOTest {

    @TempDir Path dir;

    @Test
    void sortedJsonMatchesPythonsOutput() throws IOException {
        String expected = resource("sorted_config.json");
        assertEquals(expected.stripTrailing(), JsonIO.toSortedJson(config()));

        Path file = dir.resolve("adapter_config.json");
        JsonIO.writeSorted(file, config());
        assertEquals(expected, Files.readString(file), "file text plus one final newline");
        assertEquals(
                JsonIO.toSortedJson(config()),
                JsonIO.toSortedJson(JsonIO.readObject(file)),
                "reads back");
    }

    @Test
    void readingRejectsNonObjectsAndBrokenJsonNamingTheFile() throws IOException {
        Path array = dir.resolve("array.json");
        Files.writeString(array, "[1]");
        CheckpointFormatException e =
                assertThrows(CheckpointFormatException.class, () -> JsonIO.readObject(array));
        assertTrue(
                e.getMessage().contains(array.toString())
                        && e.getMessage().contains("expected a JSON object"),
                e.getMessage());
        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "{\"r\": 8,, }");
        e = assertThrows(CheckpointFormatException.class, () -> JsonIO.readObject(broken));
        assertTrue(
                e.getMessage().contains(broken.toString())
                        && e.getMessage().contains("not valid JSON"),
                e.getMessage());
        Path trailing = dir.resolve("trailing.json");
        Files.writeString(trailing, "{} {}");
        e = assertThrows(CheckpointFormatException.class, () -> JsonIO.readObject(trailing));
        assertTrue(e.getMessage().contains(trailing.toString()), e.getMessage());
    }

    /** The object make_json_reference.py dumps, built in a different insertion order. */
    private static JsonObject config() {
        JsonObject c = new JsonObject();
        c.addProperty("r", 8);
        c.addProperty("lora_alpha", 16);
        JsonArray targets = new JsonArray();
        targets.add("query");
        targets.add("value");
        c.add("target_modules", targets);
        c.add("rank_pattern", new JsonObject());
        JsonObject alpha = new JsonObject();
        alpha.addProperty("b.layer", 2);
        alpha.addProperty("a.layer", 1);
        c.add("alpha_pattern", alpha);
        JsonObject inner = new JsonObject();
        inner.addProperty("d", true);
        inner.addProperty("c", "x<y>&'");
        JsonArray y = new JsonArray();
        y.add(1);
        y.add(inner);
        JsonObject nested = new JsonObject();
        nested.add("z", JsonNull.INSTANCE);
        nested.add("y", y);
        nested.add("empty_list", new JsonArray());
        c.add("nested", nested);
        c.addProperty("lora_dropout", 0.05);
        c.addProperty("peft_type", "LORA");
        c.addProperty("Upper", "sorted before lower case");
        return c;
    }

    private static String resource(String name) throws IOException {
        try (InputStream in = JsonIOTest.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
