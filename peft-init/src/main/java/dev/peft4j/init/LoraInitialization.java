package dev.peft4j.init;

import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.init.eva.Eva;
import dev.peft4j.init.eva.EvaInitializer;
import dev.peft4j.init.loraga.LoraGa;
import dev.peft4j.init.loraga.LoraGaInitializer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one entry point for data-driven LoRA initialization: after {@code PeftModel.create} (or
 * {@code addAdapter}) and before the trainer is created, {@link #prepare} runs whatever the
 * adapter's {@code init_lora_weights} asks for: LoRA-GA's gradient pass for {@code "lora_ga"},
 * EVA's PCA pass for {@code "eva"}, nothing for true, "gaussian", "pissa" or "pissa_niter_N"
 * (PiSSA needs only the weights and ran when the adapter was created). EVA may replace the
 * adapter's per-layer objects (new ranks), so create trainers afterwards. With peft-init on the
 * class path, {@code PeftModel.initializeFromData} calls it with the default options.
 */
public final class LoraInitialization {

    private LoraInitialization() {}

    /** Whether {@link #prepare} has work to do for a config (it needs training batches). */
    public static boolean needsData(AdapterConfig config) {
        if (!(config instanceof LoraConfig lora)) {
            return false;
        }
        String init = lora.initLoraWeights();
        return LoraGaInitializer.NAME.equals(init) || EvaInitializer.NAME.equals(init);
    }

    /** {@link #prepare(PeftModel, String, Iterable, Loss, InitOptions)} with the default options. */
    public static void prepare(PeftModel pm, String adapter, Iterable<Batch> data, Loss loss) {
        prepare(pm, adapter, data, loss, InitOptions.defaults());
    }

    /**
     * Runs the data-driven initialization of one adapter, if its config asks for one.
     *
     * @param pm the model with the adapter injected
     * @param adapter the adapter's name
     * @param data training batches ({@code batch.getData()} is what the root block's forward takes)
     * @param loss the task loss of the root block's output against {@code batch.getLabels()}
     *     (LoRA-GA only; may be null otherwise)
     * @param options LoRA-GA's number of examples, EVA's batch cap and token mask, progress
     */
    public static void prepare(
            PeftModel pm, String adapter, Iterable<Batch> data, Loss loss, InitOptions options) {
        AdapterConfig config = pm.config(adapter);
        if (!needsData(config)) {
            return;
        }
        LoraConfig lora = (LoraConfig) config;
        if (data == null) {
            throw new IllegalArgumentException(
                    "init_lora_weights '"
                            + lora.initLoraWeights()
                            + "' of adapter '"
                            + adapter
                            + "' needs training batches");
        }
        if (EvaInitializer.NAME.equals(lora.initLoraWeights())) {
            Eva.initialize(
                    pm,
                    adapter,
                    data,
                    options.evaMask(),
                    options.evaMaxBatches(),
                    options.progress());
            return;
        }
        if (loss == null) {
            throw new IllegalArgumentException(
                    "init_lora_weights 'lora_ga' of adapter '"
                            + adapter
                            + "' needs the task loss (its gradient initializes the adapter)");
        }
        LoraGa.initialize(
                pm.root(), loraLayers(pm, adapter), lora, data, loss, options.loraGaExamples());
    }

    private static Map<String, LoraAdapter> loraLayers(PeftModel pm, String adapter) {
        Map<String, LoraAdapter> out = new LinkedHashMap<>();
        pm.adapters(adapter).forEach((path, a) -> out.put(path, (LoraAdapter) a));
        return out;
    }
}
