package dev.peft4j.examples.text;

import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.config.AdapterConfig;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The adapter configurations the text examples compare, by name: each targets the attention
 * {@code query} and {@code value} projections of MiniLM and trains the {@code classifier} head in
 * full (PEFT's {@code modules_to_save} for sequence classification).
 */
public final class Methods {

    /** The modules every method adapts. */
    public static final String[] TARGETS = {"query", "value"};
    /** The head trained in full and saved with every adapter. */
    public static final String HEAD = "classifier";

    private Methods() {}

    /** Every method by name, in table order. */
    public static Map<String, Supplier<AdapterConfig>> all() {
        Map<String, Supplier<AdapterConfig>> m = new LinkedHashMap<>();
        m.put("lora", () -> lora("true"));
        return m;
    }

    /** LoRA r 8, alpha 16 on query and value, with an {@code init_lora_weights} value. */
    public static LoraConfig lora(String init) {
        return LoraConfig.builder().setRank(8).optAlpha(16).optDropout(0.05).optInitLoraWeights(init)
                .setTargetModules(TARGETS).optModulesToSave(HEAD).optTaskType("SEQ_CLS")
                .optBaseModelNameOrPath("sentence-transformers/all-MiniLM-L6-v2").build();
    }

    /** The config of a method by name; an error listing the names otherwise. */
    public static AdapterConfig byName(String name) {
        Supplier<AdapterConfig> s = all().get(name);
        if (s == null) {
            throw new IllegalArgumentException("Unknown method '" + name + "'; methods: " + all().keySet());
        }
        return s.get();
    }
}
