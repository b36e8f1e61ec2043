package dev.peft4j.core.config;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads an {@code adapter_config.json} object, remembering which keys were read so that the rest
 * can be reported: unknown keys are tolerated with a warning (PEFT writes many we do not use).
 * Errors name the source file and the key.
 */
public final class ConfigJson {

    private static final Logger LOG = LoggerFactory.getLogger(ConfigJson.class);

    private final JsonObject json;
    private final String source;
    private final Set<String> read = new HashSet<>();

    /** Wraps a parsed config; {@code source} names the file in messages. */
    public ConfigJson(JsonObject json, String source) {
        this.json = json;
        this.source = source;
    }

    /** The file (or other source) this config came from. */
    public String source() {
        return source;
    }

    /** The raw element for a key, or null when absent or JSON null. */
    public JsonElement get(String key) {
        read.add(key);
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? null : e;
    }

    /** Whether the key is present and not null. */
    public boolean has(String key) {
        return get(key) != null;
    }

    /** A required element. */
    public JsonElement require(String key) {
        JsonElement e = get(key);
        if (e == null) {
            throw error("missing required key '" + key + "'");
        }
        return e;
    }

    /** An integer, or the default when absent. */
    public int getInt(String key, int defaultValue) {
        JsonElement e = get(key);
        if (e == null) {
            return defaultValue;
        }
        double d = number(e, key, "an integer");
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
            throw error("'" + key + "' must be an integer, got " + e);
        }
        return (int) d;
    }

    /** The element as a number; an error naming the key and what was expected otherwise. */
    private double number(JsonElement e, String key, String expected) {
        try {
            return e.getAsDouble();
        } catch (RuntimeException notANumber) {
            throw error("'" + key + "' must be " + expected + ", got " + e);
        }
    }

    /**
     * A number as it is written to JSON: an integral value as an integer ({@code 16}, as PEFT
     * writes {@code lora_alpha}), any other as a double ({@code 0.5}).
     */
    public static Number jsonNumber(double value) {
        return value == Math.rint(value) && Math.abs(value) < 0x1p53
                ? (Number) (long) value
                : value;
    }

    /** A long, or the default when absent. */
    public long getLong(String key, long defaultValue) {
        JsonElement e = get(key);
        try {
            return e == null ? defaultValue : e.getAsLong();
        } catch (RuntimeException ex) {
            throw error("'" + key + "' must be an integer, got " + e);
        }
    }

    /** A number, or the default when absent. */
    public double getDouble(String key, double defaultValue) {
        JsonElement e = get(key);
        return e == null ? defaultValue : number(e, key, "a number");
    }

    /** A boolean, or the default when absent. */
    public boolean getBoolean(String key, boolean defaultValue) {
        JsonElement e = get(key);
        if (e == null) {
            return defaultValue;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw error("'" + key + "' must be true or false, got " + e);
        }
        return e.getAsBoolean();
    }

    /** A string, or the default when absent. */
    public String getString(String key, String defaultValue) {
        JsonElement e = get(key);
        return e == null ? defaultValue : e.getAsString();
    }

    /** A list of strings (a single string is a one-element list), empty when absent. */
    public List<String> getStringList(String key) {
        JsonElement e = get(key);
        List<String> out = new ArrayList<>();
        if (e == null) {
            return out;
        }
        if (e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> out.add(x.getAsString()));
        } else {
            out.add(e.getAsString());
        }
        return out;
    }

    /** An exception naming the source file. */
    public ConfigException error(String message) {
        return new ConfigException(source, message, null);
    }

    /** Logs a warning listing keys that no reader asked for; returns them. */
    public List<String> warnUnknownKeys() {
        List<String> unknown = new ArrayList<>();
        for (String k : json.keySet()) {
            if (!read.contains(k)) {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            LOG.warn("{}: ignoring unknown keys {}", source, unknown);
        }
        return unknown;
    }
}
