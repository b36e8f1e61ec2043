package dev.peft4j.init.loraga;

import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.config.ConfigJson;

/**
 * LoRA-GA's options, saved as PEFT's {@code lora_ga_config}: which singular vectors of the
 * gradient go to A and B, and the "stable" scale {@code m^(1/4) / sqrt(gamma)} (Wang et al. 2024,
 * section 3.3; gamma 16 is the paper's and PEFT's default).
 *
 * @param direction {@code "ArB2r"} (default: {@code A = V[:, :r]^T}, {@code B = U[:, r:2r]}) or
 *     {@code "A2rBr"} ({@code A = V[:, r:2r]^T}, {@code B = U[:, :r]})
 * @param scale {@code "stable"}, the only scale implemented
 * @param stableGamma gamma of the stable scale, positive
 */
public record LoraGaConfig(String direction, String scale, double stableGamma) {

    /** PEFT's key in {@code adapter_config.json}. */
    public static final String KEY = "lora_ga_config";

    /** The default direction. */
    public static final String ARB2R = "ArB2r";

    /** The alternative direction. */
    public static final String A2RBR = "A2rBr";

    /** Validates the options. */
    public LoraGaConfig {
        if (!ARB2R.equals(direction) && !A2RBR.equals(direction)) {
            throw new IllegalArgumentException(
                    "lora_ga_config.direction must be 'ArB2r' or 'A2rBr' (the paper's"
                            + " variants implemented here), got '"
                            + direction
                            + "'");
        }
        if (!"stable".equals(scale)) {
            throw new IllegalArgumentException(
                    "lora_ga_config.scale must be 'stable' (the only scale implemented),"
                            + " got '"
                            + scale
                            + "'");
        }
        if (!(stableGamma > 0)) {
            throw new IllegalArgumentException(
                    "lora_ga_config.stable_gamma must be positive, got " + stableGamma);
        }
    }

    /** The paper's defaults: ArB2r, stable, gamma 16. */
    public static LoraGaConfig defaults() {
        return new LoraGaConfig(ARB2R, "stable", 16);
    }

    /** The options of a LoRA config ({@code lora_ga_config}), defaults where absent. */
    public static LoraGaConfig of(LoraConfig config) {
        JsonObject o = config.initConfig(KEY);
        if (o == null) {
            return defaults();
        }
        ConfigJson json = new ConfigJson(o, KEY);
        LoraGaConfig d = defaults();
        LoraGaConfig c =
                new LoraGaConfig(
                        json.getString("direction", d.direction()),
                        json.getString("scale", d.scale()),
                        json.getDouble("stable_gamma", d.stableGamma()));
        json.warnUnknownKeys();
        return c;
    }

    /** PEFT's JSON form. */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("direction", direction);
        o.addProperty("scale", scale);
        o.addProperty("stable_gamma", ConfigJson.jsonNumber(stableGamma));
        return o;
    }

    /** The first column of the singular vectors that A takes. */
    int aFrom(int r) {
        return ARB2R.equals(direction) ? 0 : r;
    }

    /** The first column of the singular vectors that B takes. */
    int bFrom(int r) {
        return ARB2R.equals(direction) ? r : 0;
    }
}
