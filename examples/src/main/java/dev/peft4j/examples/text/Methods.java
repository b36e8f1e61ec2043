package dev.peft4j.examples.text;

import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.init.eva.EvaConfig;

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
        // PiSSA: dropout 0 as in the paper (dropout on the principal part perturbs the pre-trained function)
        m.put("pissa", () -> loraBuilder("pissa").optDropout(0).build());
        m.put("pissa_niter_4", () -> loraBuilder("pissa_niter_4").optDropout(0).build());
        // LoRA-GA: rsLoRA scaling, which its stable scale assumes; the gradient pass runs in FineTuneRun
        m.put("lora_ga", () -> loraBuilder("lora_ga").optUseRslora(true).build());
        // EVA: the PCA pass runs in FineTuneRun; same r and alpha as LoRA so only the init differs
        m.put("eva", () -> loraBuilder("eva").optInitConfig(EvaConfig.KEY, EvaConfig.defaults().toJson()).build());
        return m;
    }

    /** LoRA r 8, alpha 16 on query and value, with an {@code init_lora_weights} value. */
    public static LoraConfig lora(String init) {
        return loraBuilder(init).build();
    }

    /** The builder of {@link #lora}: r 8, alpha 16, dropout 0.05, query and value, head trained, SEQ_CLS. */
    public static LoraConfig.Builder loraBuilder(String init) {
        return LoraConfig.builder().setRank(8).optAlpha(16).optDropout(0.05).optInitLoraWeights(init)
                .setTargetModules(TARGETS).optModulesToSave(HEAD).optTaskType("SEQ_CLS")
                .optBaseModelNameOrPath("sentence-transformers/all-MiniLM-L6-v2");
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
