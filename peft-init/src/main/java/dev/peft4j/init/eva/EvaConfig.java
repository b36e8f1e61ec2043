package dev.peft4j.init.eva;

import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.config.ConfigJson;

/**
 * EVA's options, saved as PEFT's {@code eva_config} (Paischer et al. 2024). Defaults are the
 * paper's and PEFT's: rho 2 (a layer may get up to 2r), tau 0.99, label mask -100, no whitening,
 * scaling factors adjusted.
 *
 * @param rho each layer computes {@code round(rho * r)} components and may end with that rank, {@code >= 1}
 * @param tau a component has converged when its cosine with the previous batch's is at least tau
 * @param useLabelMask drop tokens whose label is {@code labelMaskValue} (token-level labels only)
 * @param labelMaskValue the ignored label value ({@code -100}, PyTorch's ignore index)
 * @param whiten divide each component by the square root of its singular value
 * @param adjustScalingFactors {@code alpha_l = alpha * r_l / r}, so the scaling stays alpha / r
 */
public record EvaConfig(
        double rho,
        double tau,
        boolean useLabelMask,
        long labelMaskValue,
        boolean whiten,
        boolean adjustScalingFactors) {

    /** PEFT's key in {@code adapter_config.json}. */
    public static final String KEY = "eva_config";

    /** The rank EVA's paper and examples start from. */
    public static final int DEFAULT_R = 16;

    /** The alpha EVA's paper uses. */
    public static final double DEFAULT_ALPHA = 1;

    /** Validates the options. */
    public EvaConfig {
        if (!(rho >= 1) || !Double.isFinite(rho)) {
            throw new IllegalArgumentException("eva_config.rho must be >= 1, got " + rho);
        }
        if (!(tau > 0 && tau <= 1)) {
            throw new IllegalArgumentException("eva_config.tau must be in (0, 1], got " + tau);
        }
    }

    /** The defaults: rho 2, tau 0.99, label mask on with -100, no whitening, adjusted scaling. */
    public static EvaConfig defaults() {
        return new EvaConfig(2, 0.99, true, -100, false, true);
    }

    /** The options of a LoRA config ({@code eva_config}), defaults where absent. */
    public static EvaConfig of(LoraConfig config) {
        JsonObject o = config.initConfig(KEY);
        if (o == null) {
            return defaults();
        }
        ConfigJson json = new ConfigJson(o, KEY);
        EvaConfig d = defaults();
        EvaConfig c =
                new EvaConfig(
                        json.getDouble("rho", d.rho()),
                        json.getDouble("tau", d.tau()),
                        json.getBoolean("use_label_mask", d.useLabelMask()),
                        json.getLong("label_mask_value", d.labelMaskValue()),
                        json.getBoolean("whiten", d.whiten()),
                        json.getBoolean("adjust_scaling_factors", d.adjustScalingFactors()));
        json.warnUnknownKeys();
        return c;
    }

    /** A LoRA builder with EVA's defaults: r 16, alpha 1, {@code init_lora_weights} "eva", these options. */
    public LoraConfig.Builder loraBuilder() {
        return LoraConfig.builder()
                .optRank(DEFAULT_R)
                .optAlpha(DEFAULT_ALPHA)
                .optInitLoraWeights(EvaInitializer.NAME)
                .optInitConfig(KEY, toJson());
    }

    /**
     * The number of components a layer of rank r computes: PEFT's {@code round(layer_rank * rho)}
     * ({@code tuners/lora/eva.py}), Python's round, which takes a half to the even neighbour (rho
     * 1.5 at r 3 gives 4, not 5).
     */
    public int components(int r) {
        return (int) Math.rint(r * rho);
    }

    /** PEFT's JSON form. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("rho", rho);
        o.addProperty("tau", tau);
        o.addProperty("use_label_mask", useLabelMask);
        o.addProperty("label_mask_value", labelMaskValue);
        o.addProperty("whiten", whiten);
        o.addProperty("adjust_scaling_factors", adjustScalingFactors);
        return o;
    }
}
