package dev.peft4j.core;

import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

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
}
