package dev.peft4j.core;

import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import java.util.Locale;

/**
 * A registered adapter method: its {@code peft_type} and how to read its config. Implementations
 * are found with {@link java.util.ServiceLoader} (one line in
 * {@code META-INF/services/dev.peft4j.core.AdapterMethod} per method).
 */
public interface AdapterMethod {

    /** The {@code peft_type} value, e.g. {@code "LORA"}. */
    String peftType();

    /** Parses a config object of this method (the shared keys included). */
    AdapterConfig fromJson(ConfigJson json);

    /**
     * The prefix of this method's tensor names in a checkpoint ({@code "lora_"} as in
     * {@code ...query.lora_A.weight}), which separates the module path from the tensor name.
     */
    default String tensorPrefix() {
        return peftType().toLowerCase(Locale.ROOT) + "_";
    }
}
