package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.training.util.ProgressBar;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdaptedLayer;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.AdapterSlots;
import dev.peft4j.core.PeftModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data pass of EVA: input capture on every target layer, grouping of layers with equal inputs
 * on the first batch, one incremental PCA per group fed until its needed components converge,
 * and the rank redistribution after every batch.
 */
final class EvaFit {

    private static final Logger LOG = LoggerFactory.getLogger(EvaFit.class);

    private final PeftModel pm;
    private final Map<String, LoraAdapter> layers;
    private final LoraConfig config;
    private final EvaConfig eva;
    private final TokenMask mask;
    private final NDManager manager;
    private final Map<String, InputCapture> probes = new LinkedHashMap<>();
    private final List<LayerGroup> groups = new ArrayList<>();
    private Map<String, Integer> ranks = new LinkedHashMap<>();

    EvaFit(
            PeftModel pm,
            Map<String, LoraAdapter> layers,
            LoraConfig config,
            EvaConfig eva,
            TokenMask mask,
            NDManager manager) {
        this.pm = pm;
        this.layers = layers;
        this.config = config;
        this.eva = eva;
        this.mask = mask;
        this.manager = manager;
        layers.forEach((path, a) -> ranks.put(path, components(path)));
    }

    /** The components a layer computes: {@code round(rho r)}, at most its input width. */
    private int components(String path) {
        return (int)
                Math.min(
                        eva.components(config.rankFor(path)), layers.get(path).base().inFeatures());
    }

    /** Cycles over the data until every group converged or {@code maxBatches}; returns the ranks. */
    Map<String, Integer> run(Iterable<Batch> data, int maxBatches, boolean progress) {
        attachProbes();
        ProgressBar bar = progress ? new ProgressBar("EVA: layers converged", layers.size()) : null;
        int batches = 0;
        try {
            while (batches < maxBatches) {
                int before = batches;
                for (Batch batch : data) {
                    try (batch) {
                        step(batch);
                    }
                    batches++;
                    if (bar != null) {
                        bar.update(convergedLayers(), "batch " + batches);
                    }
                    if (allConverged() || batches >= maxBatches) {
                        break;
                    }
                }
                if (batches == before) {
                    throw new IllegalArgumentException(
                            "EVA needs at least one batch of data, got none");
                }
                if (allConverged()) {
                    break;
                }
            }
        } finally {
            detachProbes();
            if (bar != null) {
                bar.end();
            }
        }
        report(batches, maxBatches);
        return ranks;
    }

    private void report(int batches, int maxBatches) {
        if (allConverged()) {
            LOG.info("EVA converged after {} batches; ranks {}", batches, ranks);
        } else {
            LOG.warn(
                    "EVA stopped after {} batches (maxBatches {}) with {}/{} layers converged;"
                            + " ranks {}",
                    batches,
                    maxBatches,
                    convergedLayers(),
                    layers.size(),
                    ranks);
        }
    }

    /** One inference pass; feeds the groups that still need data. */
    private void step(Batch batch) {
        boolean first = groups.isEmpty();
        List<LayerGroup> feeding = new ArrayList<>();
        for (LayerGroup g : groups) {
            boolean needed = !g.converged(ranks, eva.tau());
            probes.get(g.representative()).setRecording(needed);
            if (needed) {
                feeding.add(g);
            }
        }
        pm.root().forward(new ParameterStore(batch.getManager(), false), batch.getData(), false);
        Map<LayerGroup, NDArray> inputs = new LinkedHashMap<>();
        if (first) {
            inputs = group();
        } else {
            for (LayerGroup g : feeding) {
                inputs.put(g, probes.get(g.representative()).take());
            }
        }
        NDArray keep = mask.keep(batch, eva);
        inputs.forEach((g, x) -> g.pca.partialFit(TokenMask.rows(x, keep)));
        if (groups.stream().allMatch(g -> g.pca.explainedVarianceRatio() != null)) {
            ranks = RankAllocation.allocate(ratios(), budget());
        }
    }

    /**
     * Groups the layers by equal input on the first batch (only representatives record afterwards)
     * and starts one PCA per group with the most components any member needs; returns each
     * group's input of this batch.
     */
    private Map<LayerGroup, NDArray> group() {
        Map<List<String>, NDArray> found = new LinkedHashMap<>();
        for (String path : layers.keySet()) {
            NDArray x = probes.get(path).take();
            List<String> home =
                    found.entrySet().stream()
                            .filter(e -> LayerGroup.sameInput(e.getValue(), x))
                            .map(Map.Entry::getKey)
                            .findFirst()
                            .orElse(null);
            if (home == null) {
                found.put(new ArrayList<>(List.of(path)), x);
            } else {
                home.add(path);
                probes.get(path).setRecording(false);
            }
        }
        Map<LayerGroup, NDArray> inputs = new LinkedHashMap<>();
        found.forEach(
                (members, x) -> {
                    int k = members.stream().mapToInt(this::components).max().orElseThrow();
                    LayerGroup g =
                            new LayerGroup(
                                    members, new IncrementalPca(k, config.initSeed(), manager));
                    groups.add(g);
                    inputs.put(g, x);
                });
        LOG.info("EVA: {} target layers, {} distinct inputs", layers.size(), groups.size());
        return inputs;
    }

    private Map<String, double[]> ratios() {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (LayerGroup g : groups) {
            double[] all = g.pca.explainedVarianceRatio();
            for (String m : g.members) {
                out.put(m, Arrays.copyOf(all, components(m)));
            }
        }
        return out;
    }

    private int budget() {
        return layers.keySet().stream().mapToInt(config::rankFor).sum();
    }

    private boolean allConverged() {
        return !groups.isEmpty() && groups.stream().allMatch(g -> g.converged(ranks, eva.tau()));
    }

    private int convergedLayers() {
        return groups.stream()
                .filter(g -> g.converged(ranks, eva.tau()))
                .mapToInt(g -> g.members.size())
                .sum();
    }

    /** The A of every layer of positive rank: its group's top components, whitened on request. */
    Map<String, NDArray> factors(Map<String, Integer> finalRanks) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (LayerGroup g : groups) {
            for (String m : g.members) {
                int r = finalRanks.get(m);
                if (r > 0 && g.pca.components() == null) {
                    throw new IllegalStateException(
                            "EVA: layer '"
                                    + m
                                    + "' never saw "
                                    + g.pca.size()
                                    + " tokens in one batch (after masking), so it has no"
                                    + " components; use larger batches");
                }
                if (r > 0) {
                    NDArray a = g.pca.components().get(new NDIndex(":{}", r));
                    if (eva.whiten()) {
                        a =
                                a.div(
                                        g.pca.singularValues()
                                                .get(new NDIndex(":{}", r))
                                                .sqrt()
                                                .reshape(r, 1));
                    }
                    a.attach(manager);
                    out.put(m, a);
                }
            }
        }
        groups.forEach(LayerGroup::close);
        return out;
    }

    /** Adds an input capture to every target layer and makes it the only active adapter there. */
    private void attachProbes() {
        Map<String, AdaptedLayer> adapted = pm.adaptedLayers();
        layers.forEach(
                (path, a) -> {
                    AdapterSlots slots = adapted.get(path).slots();
                    InputCapture probe =
                            new InputCapture(
                                    new AdapterContext(
                                            path, InputCapture.NAME, slots.base(), manager, true));
                    slots.add(InputCapture.NAME, probe);
                    slots.setActive(List.of(InputCapture.NAME));
                    slots.setDisabled(false);
                    probes.put(path, probe);
                });
    }

    /** Removes the captures and restores the model's activation state. */
    private void detachProbes() {
        Map<String, AdaptedLayer> adapted = pm.adaptedLayers();
        probes.keySet().forEach(path -> adapted.get(path).slots().remove(InputCapture.NAME));
        pm.setActiveAdapters(pm.activeAdapters().toArray(String[]::new));
    }
}
