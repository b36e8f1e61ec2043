package dev.peft4j.init.eva;

import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.lora.LoraInitializer;
import dev.peft4j.core.AdapterContext;

/**
 * {@code init_lora_weights = "eva"} when an adapter is created: checks the options and keeps
 * PEFT's default init (Kaiming-uniform A, zero B), as PEFT does, until
 * {@code LoraInitialization.prepare} runs {@link Eva} on data.
 */
public final class EvaInitializer implements LoraInitializer {

    /** The {@code init_lora_weights} value. */
    public static final String NAME = "eva";

    @Override
    public boolean handles(String initLoraWeights) {
        return NAME.equals(initLoraWeights);
    }

    @Override
    public void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context) {
        EvaConfig.of(config);
    }
}
