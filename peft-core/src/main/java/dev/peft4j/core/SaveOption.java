package dev.peft4j.core;

/** Options of {@link PeftModel#save}. */
public enum SaveOption {

    /**
     * Converts adapters whose initialization changed the base weights (PiSSA, LoRA-GA) so that the
     * saved folder applies to the original, unmodified model (plain LoRA of twice the rank);
     * adapters that left the base alone are saved as they are.
     */
    FOR_ORIGINAL_BASE
}
