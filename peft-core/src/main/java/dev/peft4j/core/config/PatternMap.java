package dev.peft4j.core.config;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Per-module overrides such as PEFT's {@code rank_pattern} and {@code alpha_pattern}: the first
 * key (in insertion order) whose regex matches the end of a module path at a dot boundary, that
 * is {@code (.*\.)?(key)$}, gives the value; otherwise the default applies.
 */
public final class PatternMap {

    private final LinkedHashMap<String, Double> values;
    private final LinkedHashMap<String, Pattern> patterns = new LinkedHashMap<>();

    /** Creates a pattern map; keys are regexes matched against the end of module paths. */
    public PatternMap(Map<String, ? extends Number> values) {
        this.values = new LinkedHashMap<>();
        values.forEach(
                (k, v) -> {
                    this.values.put(k, v.doubleValue());
                    patterns.put(k, Pattern.compile("(.*\\.)?(" + k + ")$"));
                });
    }

    /** The empty map. */
    public static PatternMap empty() {
        return new PatternMap(Map.of());
    }

    /** The value for a module path, or {@code defaultValue}. */
    public double resolve(String path, double defaultValue) {
        for (Map.Entry<String, Pattern> e : patterns.entrySet()) {
            if (e.getValue().matcher(path).matches()) {
                return values.get(e.getKey());
            }
        }
        return defaultValue;
    }

    /** The raw entries. */
    public Map<String, Double> values() {
        return Collections.unmodifiableMap(values);
    }

    /** Whether there are no overrides. */
    public boolean isEmpty() {
        return values.isEmpty();
    }

    /** The JSON object form; integral values are written as integers. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        values.forEach((k, v) -> o.addProperty(k, ConfigJson.jsonNumber(v)));
        return o;
    }

    /** Parses the JSON object form (null or absent gives the empty map). */
    public static PatternMap fromJson(JsonElement e, String key) {
        if (e == null || e.isJsonNull()) {
            return empty();
        }
        if (!e.isJsonObject()) {
            throw new IllegalArgumentException(
                    key + " must be an object of module pattern -> number, got " + e);
        }
        LinkedHashMap<String, Double> m = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> x : e.getAsJsonObject().entrySet()) {
            if (!x.getValue().isJsonPrimitive() || !x.getValue().getAsJsonPrimitive().isNumber()) {
                throw new IllegalArgumentException(
                        key + "['" + x.getKey() + "'] must be a number, got " + x.getValue());
            }
            m.put(x.getKey(), x.getValue().getAsDouble());
        }
        return new PatternMap(m);
    }
}
