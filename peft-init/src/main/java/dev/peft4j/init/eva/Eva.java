package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.dataset.Batch;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.TargetModules;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * EVA (Paischer et al. 2024), data-driven LoRA initialization with rank redistribution: the inputs
 * of every target layer are captured during inference passes on the training data ({@link
 * InputCapture}; padding and ignored-label tokens masked), an incremental PCA per distinct input
 * keeps {@code round(rho r)} components until the components in use converge (cosine >= tau
 * between batches), the global top {@code sum(r)} explained-variance ratios decide each layer's
 * rank ({@link RankAllocation}; rank 0 drops the layer's adapter), and the adapter is rebuilt with
 * {@code A} = the layer's top components (orthonormal rows), {@code B = 0} and {@code alpha_l =
 * alpha r_l / r}; the base weights are not touched. The new ranks and alphas are saved as
 * {@code rank_pattern} / {@code alpha_pattern} and the kept layers as {@code target_modules}, as
 * PEFT does.
 */
public final class Eva {

    /** The number of batches after which EVA stops even if some components have not converged. */
    public static final int DEFAULT_MAX_BATCHES = 500;

    private Eva() {}

    /**
     * Runs EVA for one adapter of {@code pm} (created with {@code init_lora_weights = "eva"}),
     * cycling over {@code data} until convergence or {@code maxBatches}.
     *
     * @param pm the model (the PCA runs on it with every other adapter off; merged ones stay merged)
     * @param name the adapter
     * @param data batches of the training data, re-iterated when exhausted
     * @param mask which tokens of a batch count
     * @param maxBatches the cap on batches
     * @param progress whether to show a progress bar (layers converged / total)
     * @return the new rank of every layer of the original adapter (0 for dropped layers)
     */
    public static Map<String, Integer> initialize(
            PeftModel pm,
            String name,
            Iterable<Batch> data,
            TokenMask mask,
            int maxBatches,
            boolean progress) {
        LoraConfig config = (LoraConfig) pm.config(name);
        EvaConfig eva = EvaConfig.of(config);
        Map<String, LoraAdapter> layers = new LinkedHashMap<>();
        pm.adapters(name).forEach((path, a) -> layers.put(path, (LoraAdapter) a));
        NDManager manager =
                layers.values().iterator().next().base().weight().getArray().getManager();
        try (NDManager scope = manager.newSubManager()) {
            EvaFit fit = new EvaFit(pm, layers, config, eva, mask, scope);
            Map<String, Integer> ranks = fit.run(data, maxBatches, progress);
            Map<String, NDArray> a = fit.factors(ranks);
            rebuild(pm, name, redistributed(config, eva, ranks), a);
            return ranks;
        }
    }

    /** The config with the new ranks and alphas as patterns and only layers of positive rank targeted. */
    static LoraConfig redistributed(LoraConfig config, EvaConfig eva, Map<String, Integer> ranks) {
        List<String> targets = new ArrayList<>();
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        Map<String, Double> alphaPattern = new LinkedHashMap<>();
        ranks.forEach(
                (path, r) -> {
                    if (r == 0) {
                        return;
                    }
                    targets.add(path);
                    double alpha =
                            eva.adjustScalingFactors()
                                    ? config.alphaFor(path) * r / config.rankFor(path)
                                    : config.alphaFor(path);
                    if (r != config.r()) {
                        rankPattern.put(path, r);
                    }
                    if (alpha != config.alpha()) {
                        alphaPattern.put(path, alpha);
                    }
                });
        return config.toBuilder()
                .setTargetModules(TargetModules.names(targets))
                .optRankPattern(rankPattern)
                .optAlphaPattern(alphaPattern)
                .build();
    }

    /** Replaces the adapter by one built from {@code config} whose A are {@code a}; activation is kept. */
    private static void rebuild(
            PeftModel pm, String name, LoraConfig config, Map<String, NDArray> a) {
        List<String> active = new ArrayList<>(pm.activeAdapters());
        pm.deleteAdapter(name);
        pm.addAdapter(name, config);
        pm.adapters(name)
                .forEach(
                        (path, adapter) -> {
                            NDArray target = ((LoraAdapter) adapter).loraA().getArray();
                            target.set(
                                    new NDIndex("..."),
                                    a.get(path).toType(target.getDataType(), false));
                        });
        pm.setActiveAdapters(active.toArray(String[]::new));
    }
}
