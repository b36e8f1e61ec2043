package dev.peft4j.examples.text;

import dev.peft4j.adapters.bone.BoneConfig;
import dev.peft4j.adapters.flora.FloraConfig;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.nola.NolaConfig;
import dev.peft4j.adapters.pego.PegoConfig;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.init.eva.EvaConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The adapter configurations the text examples compare, by name. Each targets the attention
 * {@code query} and {@code value} projections of MiniLM at about LoRA r 8's budget (NOLA, by
 * design, trains far fewer numbers) and trains the {@code classifier} head in full (PEFT's
 * {@code modules_to_save} for sequence classification). Each has the learning rate its authors
 * recommend or, where they give none for this setting, LoRA's.
 */
public final class Methods {

    /** The modules every method adapts. */
    public static final String[] TARGETS = {"query", "value"};

    /** The head trained in full and saved with every adapter. */
    public static final String HEAD = "classifier";

    /** The {@code base_model_name_or_path} every config records. */
    public static final String BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2";

    /** LoRA's Adam learning rate, shared by its initializers (a NaN was seen once at 1e-3 on spam). */
    public static final float LORA_LR = 5e-4f;

    /** A method of the comparison: its config and its Adam learning rate. */
    public record Method(String name, Supplier<AdapterConfig> config, float learningRate) {}

    private Methods() {}

    /** Every method by name, in table order. */
    public static Map<String, Method> all() {
        Map<String, Method> m = new LinkedHashMap<>();
        add(m, "lora", () -> lora("true"), LORA_LR);
        add(
                m,
                "nola",
                () -> common(NolaConfig.builder().optRank(8).optAlpha(16).optNumBases(1024, 1024)),
                5e-3f);
        add(m, "bone", () -> common(BoneConfig.builder().optRank(16)), 1e-3f);
        add(
                m,
                "bat",
                () -> common(BoneConfig.builder().optRank(16).optVariant(BoneConfig.Variant.BAT)),
                1e-3f);
        add(m, "flora", () -> common(FloraConfig.builder().optRank(8)), 1e-3f);
        add(m, "pego", () -> common(PegoConfig.builder().optRank(4).optNumLoras(2)), 5e-4f);
        // initializers of the same LoRA: only init_lora_weights differs, so LoRA's learning rate
        // PiSSA: dropout 0 as in the paper (dropout on the principal part perturbs the pre-trained
        // function)
        add(m, "pissa", () -> loraBuilder("pissa").optDropout(0).build(), LORA_LR);
        add(m, "pissa_niter_4", () -> loraBuilder("pissa_niter_4").optDropout(0).build(), LORA_LR);
        // LoRA-GA: rsLoRA scaling, which its stable scale assumes; FineTuneRun runs the gradient
        // pass
        add(m, "lora_ga", () -> loraBuilder("lora_ga").optUseRslora(true).build(), LORA_LR);
        // EVA: FineTuneRun runs the PCA pass; same r and alpha as LoRA
        add(
                m,
                "eva",
                () ->
                        loraBuilder("eva")
                                .optInitConfig(EvaConfig.KEY, EvaConfig.defaults().toJson())
                                .build(),
                LORA_LR);
        return m;
    }

    private static void add(
            Map<String, Method> m, String name, Supplier<AdapterConfig> config, float lr) {
        m.put(name, new Method(name, config, lr));
    }

    /** The shared options: targets, the trained head, the task type and the base model's name. */
    private static <B extends AdapterConfig.Builder<B>> B shared(B builder) {
        return builder.setTargetModules(TARGETS)
                .optModulesToSave(HEAD)
                .optTaskType("SEQ_CLS")
                .optBaseModelNameOrPath(BASE_MODEL);
    }

    private static <B extends AdapterConfig.Builder<B>> AdapterConfig common(B builder) {
        return shared(builder).build();
    }

    /** LoRA r 8, alpha 16, dropout 0.05 on query and value, with an {@code init_lora_weights} value. */
    public static LoraConfig lora(String init) {
        return loraBuilder(init).build();
    }

    /** The builder of {@link #lora}, to change an option. */
    public static LoraConfig.Builder loraBuilder(String init) {
        return shared(
                LoraConfig.builder()
                        .optRank(8)
                        .optAlpha(16)
                        .optDropout(0.05)
                        .optInitLoraWeights(init));
    }

    /** A method by name; an error listing the names otherwise. */
    public static Method byName(String name) {
        Method m = all().get(name);
        if (m == null) {
            throw new IllegalArgumentException(
                    "Unknown method '" + name + "'; methods: " + all().keySet());
        }
        return m;
    }
}
