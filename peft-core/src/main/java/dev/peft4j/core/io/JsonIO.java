package dev.peft4j.core.io;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.stream.MalformedJsonException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON files the way Hugging Face writes them ({@code json.dumps(obj, indent=2, sort_keys=True)}):
 * keys sorted at every level, two-space indent, nulls kept; written atomically.
 */
public final class JsonIO {

    private static final Gson PRETTY =
            new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    private JsonIO() {}

    /** Formats {@code json} with keys sorted recursively and a two-space indent. */
    public static String toSortedJson(JsonElement json) {
        return PRETTY.toJson(sorted(json));
    }

    /** Writes {@code json} sorted and indented, with a final newline, to {@code file} atomically. */
    public static void writeSorted(Path file, JsonElement json) throws IOException {
        AtomicFiles.writeBytes(file, (toSortedJson(json) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Reads {@code file} as a strict JSON object; errors name the file. */
    public static JsonObject readObject(Path file) throws IOException {
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            JsonReader reader = new JsonReader(in);
            reader.setStrictness(Strictness.STRICT);
            JsonElement root = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new CheckpointFormatException(file, null, "content after the JSON value");
            }
            if (!root.isJsonObject()) {
                throw new CheckpointFormatException(
                        file, null, "expected a JSON object, found " + root);
            }
            return root.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException | MalformedJsonException e) {
            throw new CheckpointFormatException(file, null, "not valid JSON: " + e.getMessage(), e);
        }
    }

    private static JsonElement sorted(JsonElement json) {
        if (json.isJsonObject()) {
            JsonObject out = new JsonObject();
            Map<String, JsonElement> byKey = new TreeMap<>(json.getAsJsonObject().asMap());
            byKey.forEach((k, v) -> out.add(k, sorted(v)));
            return out;
        }
        if (json.isJsonArray()) {
            JsonArray out = new JsonArray();
            json.getAsJsonArray().forEach(v -> out.add(sorted(v)));
            return out;
        }
        return json;
    }
}
