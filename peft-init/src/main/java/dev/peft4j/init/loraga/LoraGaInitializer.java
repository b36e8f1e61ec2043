package dev.peft4j.init.loraga;

import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.init.convert.ResidualInitializer;

/**
 * {@code init_lora_weights = "lora_ga"} when an adapter is created: checks the options and keeps
 * PEFT's default init until {@code LoraInitialization.prepare} runs {@link LoraGa} on data (the
 * gradient needs the whole model and a loss, which one layer's initializer does not have).
 */
public final class LoraGaInitializer extends ResidualInitializer {

    /** The {@code init_lora_weights} value. */
    public static final String NAME = "lora_ga";

    @Override
    public boolean handles(String initLoraWeights) {
        return NAME.equals(initLoraWeights);
    }

    /** PEFT does not redo LoRA-GA at load: its folders expect the residual base. */
    @Override
    protected boolean redoneAtLoad() {
        return false;
    }

    @Override
    protected String name() {
        return NAME;
    }

    @Override
    public void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context) {
        LoraGaConfig.of(config);
        // B = 0 so W_res = W until the gradient arrives; recorded so that saving behaves the same
        // either way
        recordResidual(adapter);
    }
}
