package dev.peft4j.init;

import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.DataInitializer;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;

/** Registers {@link LoraInitialization} for {@code PeftModel.initializeFromData} (default options). */
public final class LoraDataInitializer implements DataInitializer {

    @Override
    public boolean handles(AdapterConfig config) {
        return LoraInitialization.needsData(config);
    }

    @Override
    public void initialize(PeftModel model, String adapter, Iterable<Batch> data, Loss loss) {
        LoraInitialization.prepare(model, adapter, data, loss, InitOptions.defaults());
    }
}
