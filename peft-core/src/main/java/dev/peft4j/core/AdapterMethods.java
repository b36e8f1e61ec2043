package dev.peft4j.core;

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
}
