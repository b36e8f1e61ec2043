package dev.peft4j.examples.data;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Reads the one-object-per-file JSON layout of the stdlib npm datasets. */
final class JsonFiles {

    private JsonFiles() {}

    /** Lists the {@code *.json} files of a folder in name order, or explains what is missing. */
    static List<Path> list(Path folder, String dataset) {
        if (!Files.isDirectory(folder)) {
            throw new IllegalArgumentException(
                    dataset
                            + " folder not found: "
                            + folder
                            + " (run scripts/fetch-data.sh or use DataCache.ensure)");
        }
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".json"))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder, e);
        }
    }

    /** Reads a JSON object and checks that it has the given primitive (string/number) fields. */
    static JsonObject readObject(Path file, String... requiredFields) {
        JsonElement parsed;
        try {
            parsed = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(file + ": invalid JSON: " + e.getMessage(), e);
        }
        if (!parsed.isJsonObject()) {
            throw new IllegalArgumentException(file + ": expected a JSON object");
        }
        JsonObject object = parsed.getAsJsonObject();
        for (String field : requiredFields) {
            if (!object.has(field) || !object.get(field).isJsonPrimitive()) {
                throw new IllegalArgumentException(file + ": missing field '" + field + "'");
            }
        }
        return object;
    }
}
