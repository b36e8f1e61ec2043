package dev.peft4j.models.export;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.bert.Pooling;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a classification head computes beyond its tensors, kept beside an adapter as {@code
 * head_config.json} (PEFT reads only {@code adapter_config.json} and the weights, so it ignores
 * this file): the pooling the head was trained on, the label of each class and the truncation
 * length of its inputs. An export needs all three to write a folder that predicts elsewhere what
 * the model predicted here.
 *
 * <pre>{"id2label": {"0": "ham", "1": "spam"}, "max_length": 128, "pooling": "mean"}</pre>
 *
 * @param pooling how token states became the classifier's input
 * @param labels the label of class {@code i} at index {@code i}
 * @param maxLength the truncation length of the inputs in tokens, special tokens included
 */
public record HeadConfig(Pooling pooling, List<String> labels, int maxLength) {

    /** The file name inside an adapter folder. */
    public static final String FILE = "head_config.json";

    /** Checks the fields; labels are copied. */
    public HeadConfig {
        if (pooling == null) {
            throw new IllegalArgumentException("pooling is required");
        }
        labels = List.copyOf(labels);
        if (labels.isEmpty()) {
            throw new IllegalArgumentException("a head has at least one label");
        }
        if (maxLength < 2) {
            throw new IllegalArgumentException("max_length must be at least 2, got " + maxLength);
        }
    }

    /** {@code pooling} as written in the file: {@code mean}, {@code cls} or {@code pooler}. */
    public static String poolingName(Pooling pooling) {
        return pooling.name().toLowerCase(Locale.ROOT);
    }

    /**
     * The pooling of a name ({@code mean}, {@code cls}, {@code pooler}).
     *
     * @throws IllegalArgumentException naming {@code what} and the accepted names otherwise
     */
    public static Pooling parsePooling(String name, String what) {
        for (Pooling p : Pooling.values()) {
            if (poolingName(p).equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException(
                what + ": unknown pooling '" + name + "'; expected mean, cls or pooler");
    }

    /** transformers' {@code id2label}: class index (as a string) to label. */
    public JsonObject id2label() {
        JsonObject o = new JsonObject();
        for (int i = 0; i < labels.size(); i++) {
            o.addProperty(Integer.toString(i), labels.get(i));
        }
        return o;
    }

    /** transformers' {@code label2id}: label to class index. */
    public JsonObject label2id() {
        JsonObject o = new JsonObject();
        for (int i = 0; i < labels.size(); i++) {
            o.addProperty(labels.get(i), i);
        }
        return o;
    }

    /** Writes {@code dir/head_config.json} atomically. */
    public void write(Path dir) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("pooling", poolingName(pooling));
        o.add("id2label", id2label());
        o.addProperty("max_length", maxLength);
        JsonIO.writeSorted(dir.resolve(FILE), o);
    }

    /**
     * Reads {@code dir/head_config.json}; null when the folder has none.
     *
     * @throws IllegalArgumentException naming the file and key when a key is missing or wrong
     */
    public static HeadConfig read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonObject o = JsonIO.readObject(file);
        String pooling = string(o, "pooling", file);
        JsonElement ids = o.get("id2label");
        if (ids == null || !ids.isJsonObject() || ids.getAsJsonObject().size() == 0) {
            throw bad(file, "id2label", "expected an object from class index to label");
        }
        Map<Integer, String> byIndex = new TreeMap<>();
        for (Map.Entry<String, JsonElement> e : ids.getAsJsonObject().entrySet()) {
            int index;
            try {
                index = Integer.parseInt(e.getKey());
            } catch (NumberFormatException ex) {
                throw bad(file, "id2label", "key '" + e.getKey() + "' is not a class index");
            }
            if (!e.getValue().isJsonPrimitive() || !e.getValue().getAsJsonPrimitive().isString()) {
                throw bad(file, "id2label", "the label of class " + index + " is not a string");
            }
            byIndex.put(index, e.getValue().getAsString());
        }
        List<String> labels = new ArrayList<>(byIndex.values());
        if (!new ArrayList<>(byIndex.keySet()).equals(range(labels.size()))) {
            throw bad(
                    file,
                    "id2label",
                    "expected the classes 0 to "
                            + (labels.size() - 1)
                            + ", found "
                            + byIndex.keySet());
        }
        JsonElement max = o.get("max_length");
        if (max == null
                || !max.isJsonPrimitive()
                || !max.getAsJsonPrimitive().isNumber()
                || max.getAsDouble() != Math.rint(max.getAsDouble())) {
            throw bad(file, "max_length", "expected an integer");
        }
        Pooling parsed = parsePooling(pooling, file + ": key 'pooling'");
        try {
            return new HeadConfig(parsed, labels, max.getAsInt());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    private static IllegalArgumentException bad(Path file, String key, String problem) {
        return new IllegalArgumentException(file + ": key '" + key + "': " + problem);
    }

    private static String string(JsonObject o, String key, Path file) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw bad(file, key, "expected a string");
        }
        return e.getAsString();
    }

    private static List<Integer> range(int n) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(i);
        }
        return out;
    }
}
