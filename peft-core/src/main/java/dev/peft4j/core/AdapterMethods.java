package dev.peft4j.core;

import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigException;
import dev.peft4j.core.config.ConfigJson;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The registry of adapter methods found on the class path. */
public final class AdapterMethods {

    private AdapterMethods() {}

    /**
     * All registered methods by {@code peft_type}; an error when two providers register the same
     * type.
     */
    public static Map<String, AdapterMethod> all() {
        Map<String, AdapterMethod> out = new TreeMap<>();
        for (AdapterMethodProvider provider : ServiceLoader.load(AdapterMethodProvider.class)) {
            for (AdapterMethod m : provider.methods()) {
                AdapterMethod before = out.put(m.peftType(), m);
                if (before != null) {
                    throw new IllegalStateException(
                            "peft_type '"
                                    + m.peftType()
                                    + "' is registered twice (by "
                                    + provider.getClass().getName()
                                    + " and another provider)");
                }
            }
        }
        return out;
    }

    /**
     * The method for a {@code peft_type}; an error naming the source and the known types
     * otherwise.
     */
    public static AdapterMethod forType(String peftType, String source) {
        Map<String, AdapterMethod> all = all();
        AdapterMethod m = all.get(peftType);
        if (m == null) {
            throw new IllegalArgumentException(
                    source
                            + ": unknown peft_type '"
                            + peftType
                            + "'; known types: "
                            + all.keySet());
        }
        return m;
    }

    /**
     * Parses a config object with the method its {@code peft_type} names; every error, the
     * method's own validation included, is a {@link ConfigException} naming the source. Keys no reader asked for are returned in {@code
     * unknownKeys} (and logged as a warning: PEFT writes many keys we do not use).
     */
    public static AdapterConfig parse(ConfigJson json, List<String> unknownKeys) {
        String type = json.getString("peft_type", null);
        if (type == null) {
            throw json.error("missing required key 'peft_type'");
        }
        AdapterConfig config;
        try {
            config = forType(type, json.source()).fromJson(json);
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            // a builder's validation ("r must be positive") knows no file: name it here
            throw new ConfigException(json.source(), e.getMessage(), e);
        }
        unknownKeys.addAll(json.warnUnknownKeys());
        return config;
    }

    /** {@link #parse(ConfigJson, List)}, unknown keys only logged. */
    public static AdapterConfig parse(ConfigJson json) {
        return parse(json, new ArrayList<>());
    }
}
