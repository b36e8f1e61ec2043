package dev.peft4j.init.loraga;

import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.config.ConfigJson;
import java.util.List;

/**
 * LoRA-GA's options, saved as PEFT's {@code lora_ga_config} (PEFT {@code tuners/lora/config.py},
 * {@code LoraGAConfig}): which singular vectors of the gradient go to A and B, and how they are
 * scaled.
 *
 * <p>Directions (PEFT {@code tuners/lora/layer.py}, {@code lora_ga_init}): {@code "ArB2r"}
 * (default: A the right singular vectors {@code 0..r-1}, B the left ones {@code r..2r-1}), {@code
 * "A2rBr"} (swapped), {@code "ArBr"} (A the odd, B the even components), {@code "random"} (the same
 * r of the 2r components for both, drawn here by a permutation seeded with the layer's seed, where
 * PEFT draws {@code torch.randperm}).
 *
 * <p>Scales: PEFT's {@code "stable"} (default: {@code A = V^T}, {@code B = U diag(S) out^(1/4) /
 * sqrt(gamma)}), {@code "weight_svd"} ({@code B = U diag(S) * S_W[0] / S[0]}, S_W the top singular
 * value of the base weight by a rank-r randomized SVD), {@code "gd_scale"} (both divided by the
 * scaling), {@code "unit"} ({@code B = U diag(S)}); and peft4j's {@code "paper"}, the authors' code
 * (Wang et al. 2024): singular values unused, A and B both multiplied by {@code out^(1/4) /
 * sqrt(gamma)}. PEFT reads a folder of either kind the same way (it skips the initialization at
 * load), so the choice only changes training.
 *
 * @param direction one of {@link #DIRECTIONS}
 * @param scale one of {@link #SCALES}
 * @param stableGamma gamma of the stable and paper scales, positive
 */
public record LoraGaConfig(String direction, String scale, double stableGamma) {

    /** PEFT's key in {@code adapter_config.json}. */
    public static final String KEY = "lora_ga_config";

    /** The default direction. */
    public static final String ARB2R = "ArB2r";

    /** A from the second r components, B from the first r. */
    public static final String A2RBR = "A2rBr";

    /** A from the odd components, B from the even ones. */
    public static final String ARBR = "ArBr";

    /** The same random r of the 2r components for A and B. */
    public static final String RANDOM = "random";

    /** The directions, PEFT's. */
    public static final List<String> DIRECTIONS = List.of(ARB2R, A2RBR, ARBR, RANDOM);

    /** PEFT's default scale. */
    public static final String STABLE = "stable";

    /** The authors' code's scale (peft4j's name). */
    public static final String PAPER = "paper";

    /** The scales: PEFT's four and the paper's. */
    public static final List<String> SCALES =
            List.of(STABLE, "weight_svd", "gd_scale", "unit", PAPER);

    /** Validates the options. */
    public LoraGaConfig {
        if (!DIRECTIONS.contains(direction)) {
            throw new IllegalArgumentException(
                    "lora_ga_config.direction must be one of "
                            + DIRECTIONS
                            + ", got '"
                            + direction
                            + "'");
        }
        if (!SCALES.contains(scale)) {
            throw new IllegalArgumentException(
                    "lora_ga_config.scale must be one of " + SCALES + ", got '" + scale + "'");
        }
        if (!(stableGamma > 0)) {
            throw new IllegalArgumentException(
                    "lora_ga_config.stable_gamma must be positive, got " + stableGamma);
        }
    }

    /** PEFT's defaults: ArB2r, stable, gamma 16. */
    public static LoraGaConfig defaults() {
        return new LoraGaConfig(ARB2R, STABLE, 16);
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

    /**
     * The components of the gradient's SVD that A takes (rows of {@code V^T}) and B takes (columns
     * of {@code U}), each of length r; {@code random} draws from {@code seed}.
     */
    int[][] components(int r, long seed) {
        int[] a = new int[r];
        int[] b = new int[r];
        switch (direction) {
            case ARB2R -> {
                for (int i = 0; i < r; i++) {
                    a[i] = i;
                    b[i] = r + i;
                }
            }
            case A2RBR -> {
                for (int i = 0; i < r; i++) {
                    a[i] = r + i;
                    b[i] = i;
                }
            }
            case ARBR -> {
                for (int i = 0; i < r; i++) {
                    a[i] = 2 * i + 1;
                    b[i] = 2 * i;
                }
            }
            default -> {
                int[] perm = new int[2 * r];
                for (int i = 0; i < perm.length; i++) {
                    perm[i] = i;
                }
                java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
                for (int i = perm.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1);
                    int t = perm[i];
                    perm[i] = perm[j];
                    perm[j] = t;
                }
                System.arraycopy(perm, 0, a, 0, r);
                System.arraycopy(perm, 0, b, 0, r);
            }
        }
        return new int[][] {a, b};
    }
}
