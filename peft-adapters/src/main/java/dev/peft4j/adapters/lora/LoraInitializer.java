package dev.peft4j.adapters.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.core.AdapterContext;
import java.util.Map;

/**
 * An {@code init_lora_weights} value beyond PEFT's default and "gaussian" (PiSSA, LoRA-GA, EVA...),
 * found with {@link java.util.ServiceLoader}. It sets A and B of a fresh adapter (which starts
 * from PEFT's default: Kaiming-uniform A, zero B) and may change the base weight so that the
 * model's output is unchanged; the default methods are the save and load hooks of initializers
 * that change the base weight.
 */
public interface LoraInitializer {

    /** Whether this initializer handles an {@code init_lora_weights} value ({@code "pissa_niter_4"}). */
    boolean handles(String initLoraWeights);

    /** Initializes one layer's adapter. */
    void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context);

    /** The config saved for the original base weights (PiSSA: plain LoRA of rank 2r); by default unchanged. */
    default LoraConfig forOriginalBase(LoraConfig config) {
        return config;
    }

    /** One layer's tensors for the original base weights, new arrays on {@code scope}; by default its state dict. */
    default Map<String, NDArray> stateDictForOriginalBase(LoraAdapter adapter, NDManager scope) {
        return adapter.stateDict();
    }

    /** Metadata saved with one layer (a fingerprint of the base weight it expects); by default none. */
    default Map<String, String> checkpointMetadata(LoraAdapter adapter) {
        return Map.of();
    }

    /**
     * Checks, before a checkpoint's tensors are loaded into the layer, that its base is the one the
     * checkpoint's metadata from {@code source} expects; must change nothing. By default accepts.
     */
    default void checkBeforeLoad(LoraAdapter adapter, Map<String, String> metadata, String source) {
        // initializers that leave the base weight alone have nothing to check
    }

    /**
     * Finishes loading a layer whose checkpoint tensors are in place (PiSSA and OLoRA redo their
     * decomposition of the base weight, as PEFT does); by default nothing.
     */
    default void verifyLoaded(LoraAdapter adapter, Map<String, String> metadata, String source) {
        // initializers that leave the base weight alone have nothing to do
    }

    /**
     * Whether the layer's saved folder is meant for the original base, the initialization being
     * redone on it at load (PEFT: PiSSA, OLoRA): its change against the original weight is then
     * the converted plain LoRA of {@link #stateDictForOriginalBase}, not {@code s B A}. False when
     * the folder expects the base as the initialization left it (LoRA-GA) or the base is left
     * alone.
     */
    default boolean meantForOriginalBase(LoraAdapter adapter) {
        return false;
    }
}
