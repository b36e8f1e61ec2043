package dev.peft4j.core;

import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Function;

/**
 * A registered adapter method: its {@code peft_type} and how to read its config. A module makes
 * its methods known with one {@link AdapterMethodProvider} (found with {@link
 * java.util.ServiceLoader}) whose list holds one {@link #of} line per method.
 */
public interface AdapterMethod {

    /** The {@code peft_type} value, e.g. {@code "LORA"}. */
    String peftType();

    /** Parses a config object of this method (the shared keys included). */
    AdapterConfig fromJson(ConfigJson json);

    /**
     * The prefix of this method's tensor names in a checkpoint ({@code "lora_"} as in {@code
     * ...query.lora_A.weight}), which separates the module path from the tensor name.
     */
    default String tensorPrefix() {
        return peftType().toLowerCase(Locale.ROOT) + "_";
    }

    /**
     * A method registered under {@code peftType} whose configs are read by {@code reader}, e.g.
     * {@code AdapterMethod.of(NolaConfig.PEFT_TYPE, NolaConfig::fromJson)}.
     */
    static AdapterMethod of(String peftType, Function<ConfigJson, ? extends AdapterConfig> reader) {
        Objects.requireNonNull(peftType, "peftType");
        Objects.requireNonNull(reader, "reader");
        return new AdapterMethod() {
            @Override
            public String peftType() {
                return peftType;
            }

            @Override
            public AdapterConfig fromJson(ConfigJson json) {
                return reader.apply(json);
            }

            @Override
            public String toString() {
                return peftType;
            }
        };
    }
}
