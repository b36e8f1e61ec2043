package dev.peft4j.core;

import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.config.AdapterConfig;

/**
 * A data-driven adapter initialization (LoRA-GA's gradient pass, EVA's PCA of layer inputs), found
 * with {@link java.util.ServiceLoader} (peft-init registers one); {@link PeftModel#initializeFromData}
 * runs the one that handles an adapter's config, so callers need not know which configs need data.
 */
public interface DataInitializer {

    /** Whether this initializer has work for an adapter with this config. */
    boolean handles(AdapterConfig config);

    /**
     * Initializes the adapter from training batches ({@code batch.getData()} is what the root
     * block's forward takes) and the task loss of its output against {@code batch.getLabels()}.
     */
    void initialize(PeftModel model, String adapter, Iterable<Batch> data, Loss loss);
}
