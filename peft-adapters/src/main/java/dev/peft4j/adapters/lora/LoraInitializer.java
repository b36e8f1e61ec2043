package dev.peft4j.adapters.lora;

import dev.peft4j.core.AdapterContext;

/**
 * An {@code init_lora_weights} value beyond PEFT's default and "gaussian" (PiSSA, LoRA-GA, EVA...),
 * found with {@link java.util.ServiceLoader}. It sets A and B of a fresh adapter and may change the
 * base weight so that the model's output is unchanged.
 */
public interface LoraInitializer {

    /** Whether this initializer handles an {@code init_lora_weights} value ({@code "pissa_niter_4"}). */
    boolean handles(String initLoraWeights);

    /** Initializes one layer's adapter. */
    void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context);
}
