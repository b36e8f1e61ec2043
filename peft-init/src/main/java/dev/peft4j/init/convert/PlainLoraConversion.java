package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Conversion of a trained PiSSA or LoRA-GA adapter to a plain LoRA for the original weight
 * (methods.md): {@code A' = [A ; A0]}, {@code B' = [B , -B0]}, rank {@code 2r} and alpha
 * {@code 2 alpha} ({@code sqrt(2) alpha} with rsLoRA) so the scaling s is unchanged, since
 * {@code W + s B' A' = (W - s B0 A0) + s B A}.
 */
public final class PlainLoraConversion {

    private PlainLoraConversion() {}

    /** The plain LoRA config: ranks doubled, alphas scaled, {@code init_lora_weights} true, initializer options dropped. */
    public static LoraConfig config(LoraConfig c) {
        double f = alphaFactor(c);
        Map<String, Integer> ranks = new LinkedHashMap<>();
        c.rankPattern().values().forEach((k, v) -> ranks.put(k, 2 * v.intValue()));
        Map<String, Double> alphas = new LinkedHashMap<>();
        c.alphaPattern().values().forEach((k, v) -> alphas.put(k, f * v));
        LoraConfig.Builder b =
                c.toBuilder()
                        .optRank(2 * c.r())
                        .optAlpha(f * c.alpha())
                        .optRankPattern(ranks)
                        .optAlphaPattern(alphas)
                        .optInitLoraWeights("true");
        LoraConfig.INIT_CONFIG_KEYS.forEach(k -> b.optInitConfig(k, null));
        return b.build();
    }

    /** The alpha factor that keeps the scaling when the rank doubles. */
    static double alphaFactor(LoraConfig c) {
        return c.useRslora() ? Math.sqrt(2) : 2;
    }

    /** The converted {@code lora_A.weight [2r, in]} and {@code lora_B.weight [out, 2r]}, on {@code scope}. */
    public static Map<String, NDArray> tensors(
            LoraAdapter adapter, NDArray a0, NDArray b0, NDManager scope) {
        NDArray a = adapter.loraA().getArray();
        NDArray b = adapter.loraB().getArray();
        NDArray aPrime = a.concat(a0, 0);
        aPrime.attach(scope);
        NDArray minusB0 = b0.neg();
        minusB0.attach(scope);
        NDArray bPrime = b.concat(minusB0, 1);
        bPrime.attach(scope);
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put(adapter.loraA().getName(), aPrime);
        out.put(adapter.loraB().getName(), bPrime);
        return out;
    }
}
