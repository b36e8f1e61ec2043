package dev.peft4j.core;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SimpleCompositeLoss;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.core.tree.ModuleTree;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * A DJL block tree with named adapters injected by module path (PEFT's {@code PeftModel}).
 *
 * <p>Adding an adapter wraps every targeted {@code Linear} / {@code Conv2d} in an
 * {@link AdaptedLayer} in place, so the user's model is used as it is. Base parameters are frozen;
 * only the active adapters' parameters (and {@code modules_to_save}) are trainable.
 */
public final class PeftModel {

    /** The adapter name PEFT uses when none is given. */
    public static final String DEFAULT = "default";

    private final Block root;
    private final Map<String, AdapterConfig> configs = new LinkedHashMap<>();
    private final List<String> active = new ArrayList<>();
    private boolean disabled;

    private PeftModel(Block root) {
        this.root = root;
    }

    /** Wraps a model's block tree without adding adapters. */
    public static PeftModel of(Block root) {
        return new PeftModel(root);
    }

    /** Wraps a block tree and adds one adapter named {@code default} (PEFT's {@code get_peft_model}). */
    public static PeftModel create(Block root, AdapterConfig config) {
        return of(root).addAdapter(DEFAULT, config);
    }

    /** The root block (the user's model, with adapters injected). */
    public Block root() {
        return root;
    }

    /**
     * Injects an adapter under a new name into every module the config selects. The first adapter
     * becomes active; later ones are added inactive, as in PEFT.
     */
    public PeftModel addAdapter(String name, AdapterConfig config) {
        return addAdapter(name, config, false);
    }

    /** Injects an adapter whose weights come from a checkpoint next (skips costly initialization). */
    PeftModel addAdapter(String name, AdapterConfig config, boolean forLoading) {
        if (name == null || name.isBlank() || name.contains(".")) {
            throw new IllegalArgumentException(
                    "Adapter name must be non-empty and contain no '.', got '" + name + "'");
        }
        if (configs.containsKey(name)) {
            throw new IllegalArgumentException(
                    "An adapter named '" + name + "' already exists; delete it first");
        }
        Map<String, Block> modules = ModuleTree.modules(root);
        List<String> targets = selectTargets(config, modules);
        List<String> injected = new ArrayList<>();
        try {
            for (String path : targets) {
                AdaptedLayer layer = adaptedAt(path, modules.get(path));
                String refusal = config.cannotAdapt(layer.base(), path);
                if (refusal != null) {
                    throw new IllegalArgumentException(refusal);
                }
                AdapterContext ctx =
                        new AdapterContext(
                                path,
                                name,
                                layer.base(),
                                layer.base().weight().getArray().getManager(),
                                forLoading);
                layer.slots().add(name, config.createAdapter(ctx));
                injected.add(path);
            }
        } catch (RuntimeException e) {
            injected.forEach(p -> removeFrom(p, name));
            throw e;
        }
        configs.put(name, config);
        if (active.isEmpty()) {
            active.add(name);
        }
        applyState();
        return this;
    }

    private List<String> selectTargets(AdapterConfig config, Map<String, Block> modules) {
        List<String> matched = new ArrayList<>();
        List<String> targets = new ArrayList<>();
        for (Map.Entry<String, Block> e : modules.entrySet()) {
            Block b = e.getValue();
            boolean linear = b instanceof Linear;
            if (config.selects(e.getKey(), linear)) {
                matched.add(e.getKey());
                if (!config.insideModulesToSave(e.getKey())) {
                    targets.add(e.getKey());
                }
            }
        }
        // a target name that only matches saved modules matched, as in PEFT
        config.targetModules().requireAllMatched(modules.keySet(), matched);
        return targets;
    }

    private AdaptedLayer adaptedAt(String path, Block block) {
        if (block instanceof AdaptedLayer) {
            return (AdaptedLayer) block;
        }
        AdaptedLayer layer = AdaptedLayer.wrap(block, path);
        ModuleTree.replace(root, path, layer);
        return layer;
    }

    /** Removes an adapter everywhere; layers left without adapters get their base layer back. */
    public void deleteAdapter(String name) {
        requireAdapter(name);
        for (String path : new ArrayList<>(adaptedLayers().keySet())) {
            removeFrom(path, name);
        }
        configs.remove(name);
        active.remove(name);
        applyState();
    }

    private void removeFrom(String path, String name) {
        AdaptedLayer layer = (AdaptedLayer) ModuleTree.get(root, path);
        layer.slots().remove(name);
        if (layer.slots().adapters().isEmpty()) {
            ModuleTree.replace(root, path, layer.base().block());
        }
    }

    /** Makes the named adapters the active ones (several may be active at once; their outputs add). */
    public void setActiveAdapters(String... names) {
        for (String n : names) {
            requireAdapter(n);
        }
        active.clear();
        Collections.addAll(active, names);
        applyState();
    }

    /** The active adapter names. */
    public List<String> activeAdapters() {
        return Collections.unmodifiableList(active);
    }

    /** Every adapter's config by name. */
    public Map<String, AdapterConfig> configs() {
        return Collections.unmodifiableMap(configs);
    }

    /** One adapter's config. */
    public AdapterConfig config(String name) {
        requireAdapter(name);
        return configs.get(name);
    }

    /** Turns every adapter off (outputs are the base model's exactly); merged adapters are unmerged. */
    public void disableAdapters() {
        disabled = true;
        applyState();
    }

    /** Turns adapters back on after {@link #disableAdapters()}. */
    public void enableAdapters() {
        disabled = false;
        applyState();
    }

    /** Whether adapters are disabled. */
    public boolean adaptersDisabled() {
        return disabled;
    }

    /** The scope of {@link #withAdaptersDisabled()}: closing it throws nothing. */
    public interface AdaptersDisabled extends AutoCloseable {
        /** Restores the adapters' state from before the scope. */
        @Override
        void close();
    }

    /**
     * Disables adapters until the returned scope is closed (PEFT's {@code with disable_adapter()}):
     * {@code try (var off = peft.withAdaptersDisabled()) { ... }}. Scopes nest: closing an inner
     * one leaves the adapters disabled if they were before it opened.
     */
    public AdaptersDisabled withAdaptersDisabled() {
        boolean before = disabled;
        disableAdapters();
        return () -> {
            if (!before) {
                enableAdapters();
            }
        };
    }

    /** Merges the active adapters into the base weights (outputs unchanged, no adapter cost at inference). */
    public void merge() {
        for (AdaptedLayer layer : adaptedLayers().values()) {
            for (String n : active) {
                if (layer.slots().adapters().containsKey(n)) {
                    layer.slots().merge(n);
                }
            }
        }
    }

    /** Restores the base weights by removing every merged adapter's change. */
    public void unmerge() {
        adaptedLayers().values().forEach(l -> l.slots().unmergeAll());
    }

    /**
     * Merges the active adapters and removes all adapters, returning the plain model (PEFT's
     * {@code merge_and_unload}); this PeftModel holds no adapters afterwards.
     */
    public Block mergeAndUnload() {
        merge();
        return unload(false);
    }

    /** Removes all adapters without merging, returning the base model. */
    public Block unload() {
        return unload(true);
    }

    private Block unload(boolean unmergeFirst) {
        for (Map.Entry<String, AdaptedLayer> e : adaptedLayers().entrySet()) {
            if (unmergeFirst) {
                e.getValue().slots().unmergeAll();
            }
            ModuleTree.replace(root, e.getKey(), e.getValue().base().block());
            for (String n : new ArrayList<>(e.getValue().slots().adapters().keySet())) {
                e.getValue().slots().forget(n);
            }
        }
        configs.clear();
        active.clear();
        root.freezeParameters(false);
        return root;
    }

    /** The adapted layers by module path. */
    public LinkedHashMap<String, AdaptedLayer> adaptedLayers() {
        LinkedHashMap<String, AdaptedLayer> out = new LinkedHashMap<>();
        ModuleTree.modules(root)
                .forEach(
                        (p, b) -> {
                            if (b instanceof AdaptedLayer) {
                                out.put(p, (AdaptedLayer) b);
                            }
                        });
        return out;
    }

    /** One adapter's per-layer objects by module path. */
    public LinkedHashMap<String, Adapter> adapters(String name) {
        requireAdapter(name);
        LinkedHashMap<String, Adapter> out = new LinkedHashMap<>();
        adaptedLayers()
                .forEach(
                        (p, l) -> {
                            Adapter a = l.slots().adapters().get(name);
                            if (a != null) {
                                out.put(p, a);
                            }
                        });
        return out;
    }

    /** The modules trained in full with an adapter ({@code modules_to_save}), by path. */
    public LinkedHashMap<String, Block> modulesToSave(String name) {
        LinkedHashMap<String, Block> out = new LinkedHashMap<>();
        List<String> wanted = config(name).modulesToSave();
        if (wanted.isEmpty()) {
            return out;
        }
        ModuleTree.modules(root)
                .forEach(
                        (p, b) -> {
                            for (String m : wanted) {
                                if (TargetModules.matchesName(p, m)
                                        && out.keySet().stream()
                                                .noneMatch(q -> p.startsWith(q + "."))) {
                                    out.put(p, b);
                                }
                            }
                        });
        for (String m : wanted) {
            if (out.keySet().stream().noneMatch(p -> TargetModules.matchesName(p, m))) {
                throw new IllegalArgumentException("modules_to_save '" + m + "' matches no module");
            }
        }
        return out;
    }

    /**
     * The loss to train with: {@code task} alone, or, when active adapters have training
     * regularizers (PEGO's), a {@link SimpleCompositeLoss} of {@code task} and each of them, so that
     * DJL's trainer, its listeners and evaluators see one loss.
     */
    public Loss trainingLoss(Loss task) {
        List<Loss> terms = new ArrayList<>();
        for (String n : active) {
            Loss term = configs.get(n).regularizer(this, n);
            if (term != null) {
                terms.add(term);
            }
        }
        if (terms.isEmpty()) {
            return task;
        }
        SimpleCompositeLoss total = new SimpleCompositeLoss(task.getName() + "+regularizers");
        total.addLoss(task);
        terms.forEach(total::addLoss);
        return total;
    }

    /** Number of trainable parameter elements (active adapters and modules to save). */
    public long trainableParameterCount() {
        long n = 0;
        for (Parameter p : root.getParameters().values()) {
            if (p.requiresGradient() && p.getArray() != null) {
                n += p.getArray().getShape().size();
            }
        }
        return n;
    }

    /** Number of all parameter elements, adapters included. */
    public long totalParameterCount() {
        long n = 0;
        for (Parameter p : root.getParameters().values()) {
            if (p.getArray() != null) {
                n += p.getArray().getShape().size();
            }
        }
        return n;
    }

    /** PEFT's one-line summary of trainable parameters. */
    public String trainableSummary() {
        long t = trainableParameterCount();
        long all = totalParameterCount();
        return String.format(
                Locale.ROOT,
                "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                t,
                all,
                all == 0 ? 0.0 : 100.0 * t / all);
    }

    /**
     * Creates a DJL trainer for the model and re-freezes the base (DJL's {@code newTrainer} unfreezes
     * every parameter of a loaded model), so only adapter parameters reach the optimizer. The
     * model's block is this PeftModel's root, or a block that holds it (a sentence encoder around
     * the adapted transformer); the wrapper's own parameters, if any, stay trainable.
     */
    public Trainer newTrainer(Model model, TrainingConfig config) {
        if (!holdsRoot(model.getBlock())) {
            throw new IllegalArgumentException(
                    "The model's block is not this PeftModel's root block, nor holds it");
        }
        Trainer trainer = model.newTrainer(config);
        applyState();
        return trainer;
    }

    private boolean holdsRoot(Block block) {
        if (block == root) {
            return true;
        }
        for (Block child : block.getChildren().values()) {
            if (holdsRoot(child)) {
                return true;
            }
        }
        return false;
    }

    /** Pushes activation, disabled state and trainability to every layer. */
    private void applyState() {
        for (AdaptedLayer layer : adaptedLayers().values()) {
            layer.slots().setActive(active);
            layer.slots().setDisabled(disabled);
        }
        for (Parameter p : root.getParameters().values()) {
            p.freeze(true);
        }
        for (AdaptedLayer layer : adaptedLayers().values()) {
            for (String n : active) {
                Adapter a = layer.slots().adapters().get(n);
                if (a != null) {
                    a.setTrainable(true);
                }
            }
        }
        for (String n : active) {
            modulesToSave(n).values().forEach(b -> b.freezeParameters(false));
        }
    }

    private void requireAdapter(String name) {
        if (!configs.containsKey(name)) {
            throw new IllegalArgumentException(
                    "No adapter named '" + name + "'; adapters: " + configs.keySet());
        }
    }

    /**
     * Saves every adapter PEFT-style: {@code default} in {@code dir}, others in {@code dir/<name>};
     * {@link SaveOption#FOR_ORIGINAL_BASE} converts adapters that changed the base weights.
     */
    public void save(Path dir, SaveOption... options) throws IOException {
        AdapterCheckpoint.saveAll(this, dir, options);
    }

    /** Saves one adapter as an adapter folder (options as for {@link #save(java.nio.file.Path, SaveOption...)}). */
    public void save(String name, Path dir, SaveOption... options) throws IOException {
        AdapterCheckpoint.save(this, name, dir, options);
    }

    /** Loads an adapter folder under a new name (inactive unless it is the first adapter). */
    public PeftModel loadAdapter(Path dir, String name) throws IOException {
        AdapterCheckpoint.load(this, dir, name);
        return this;
    }

    /** Wraps {@code root} and loads an adapter folder as {@code default} (PEFT's {@code from_pretrained}). */
    public static PeftModel load(Block root, Path dir) throws IOException {
        return AdapterCheckpoint.load(root, dir);
    }

    /**
     * Runs the data-driven initialization the adapter's config asks for (LoRA-GA, EVA: a
     * {@link DataInitializer} on the class path, from peft-init), and nothing for configs that need
     * none. Call it after adding the adapter and before {@link #newTrainer}: it may rebuild the
     * adapter's layers.
     */
    public void initializeFromData(String name, Iterable<Batch> data, Loss loss) {
        AdapterConfig config = config(name);
        for (DataInitializer i : ServiceLoader.load(DataInitializer.class)) {
            if (i.handles(config)) {
                i.initialize(this, name, data, loss);
                return;
            }
        }
    }

    /** The base layer description of a module, for methods that need it before injection. */
    public BaseLayer baseLayer(String path) {
        Block b = ModuleTree.get(root, path);
        return b instanceof AdaptedLayer ? ((AdaptedLayer) b).base() : BaseLayer.of(b, path);
    }
}
