package dev.peft4j.core;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The registry of adapter methods found on the class path. */
public final class AdapterMethods {

    private AdapterMethods() {}

    /** All registered methods by {@code peft_type}. */
    public static Map<String, AdapterMethod> all() {
        Map<String, AdapterMethod> out = new TreeMap<>();
        for (AdapterMethod m : ServiceLoader.load(AdapterMethod.class)) {
            out.put(m.peftType(), m);
        }
        return out;
    }

    /** The method for a {@code peft_type}; an error naming the source and the known types otherwise. */
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
