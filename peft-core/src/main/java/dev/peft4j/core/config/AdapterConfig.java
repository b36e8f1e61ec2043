package dev.peft4j.core.config;

import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.tree.BaseLayer;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The configuration of one adapter method, in the layout of PEFT's {@code adapter_config.json}.
 *
 * <p>Built DJL-style: {@code setX} for required values, {@code optX} for optional ones, validated in
 * {@code build()}. This base holds what every method shares: target and excluded modules,
 * modules to save, task type and base model name.
 */
public abstract class AdapterConfig {

    private final TargetModules targetModules;
    private final TargetModules excludeModules;
    private final List<Integer> layersToTransform;
    private final List<String> layersPattern;
    private final List<Pattern> layerIndexPatterns;
    private final List<String> modulesToSave;
    private final String taskType;
    private final String baseModelNameOrPath;
    private final boolean inferenceMode;

    /** Copies the shared fields from a validated builder. */
    protected AdapterConfig(Builder<?> b) {
        this.targetModules = b.targetModules;
        this.excludeModules = b.excludeModules;
        this.layersToTransform = List.copyOf(b.layersToTransform);
        this.layersPattern = List.copyOf(b.layersPattern);
        List<Pattern> patterns = new ArrayList<>();
        if (layersPattern.isEmpty()) {
            // PEFT: the first numbered segment after some dotted name (lazy, so that a nested
            // index such as an expert's is not taken)
            patterns.add(Pattern.compile(".*?\\.[^.]*\\.(\\d+)\\..*"));
        } else {
            for (String p : layersPattern) {
                patterns.add(Pattern.compile(".*?\\." + p + "\\.(\\d+)\\..*"));
            }
        }
        this.layerIndexPatterns = List.copyOf(patterns);
        this.modulesToSave = List.copyOf(b.modulesToSave);
        this.taskType = b.taskType;
        this.baseModelNameOrPath = b.baseModelNameOrPath;
        this.inferenceMode = b.inferenceMode;
    }

    /**
     * Checks the shapes of one module's saved tensors against this config before anything reads
     * them without a model (inspecting a folder, merging its factors): a config that disagrees
     * with its tensors is an error, not a guess. The default accepts every shape; loading onto a
     * model checks every tensor against the adapter built from the config anyway.
     *
     * @param module the module path
     * @param shapes the module's tensors ({@code lora_A.weight}, ...) and their shapes
     * @param source the folder or file, for the message
     * @throws IllegalArgumentException naming the module, the config value and the tensor shape
     */
    public void checkSavedShapes(String module, Map<String, Shape> shapes, String source) {}

    /** The {@code peft_type} this config saves as ({@code "LORA"}). */
    public abstract String peftType();

    /**
     * The Adam learning rate this method trains at when none is given: {@code peft train --lr},
     * the examples and the benchmarks read it here. Each method states the rate's source.
     */
    public abstract float recommendedLearningRate();

    /** Adam at {@link #recommendedLearningRate()}. */
    public Optimizer recommendedOptimizer() {
        return Optimizer.adam()
                .optLearningRateTracker(Tracker.fixed(recommendedLearningRate()))
                .build();
    }

    /** Builds this method's adapter for one matched layer. */
    public abstract Adapter createAdapter(AdapterContext context);

    /** The layer kinds this method can adapt. */
    public Set<BaseLayer.Kind> supportedLayers() {
        return EnumSet.of(BaseLayer.Kind.LINEAR);
    }

    /**
     * Why this config cannot adapt {@code base} at {@code path}, or null when it can: by default a
     * kind outside {@link #supportedLayers()}; a method refines it for layers of a supported kind
     * that it still cannot handle (LoRA: grouped convolutions).
     */
    public String cannotAdapt(BaseLayer base, String path) {
        return supportedLayers().contains(base.kind())
                ? null
                : peftType()
                        + " cannot adapt module '"
                        + path
                        + "' ("
                        + base.kind()
                        + "); it supports "
                        + supportedLayers();
    }

    /**
     * The config saved together with {@link Adapter#stateDictForOriginalBase}: a method whose
     * initialization changed the base weights returns the config of its converted form (PiSSA:
     * plain LoRA of rank 2r); by default this config.
     */
    public AdapterConfig forOriginalBase() {
        return this;
    }

    /**
     * A term this method adds to the task loss while training (PEGO's orthogonality regularizer),
     * given the model and the adapter's name, as a DJL {@link Loss} (it ignores labels and
     * predictions but for the manager its scalar is attached to); null for methods without one.
     * {@link PeftModel#trainingLoss} adds it to the task loss.
     */
    public Loss regularizer(PeftModel model, String adapterName) {
        return null;
    }

    /** Writes the method's own keys. */
    protected abstract void writeFields(JsonObject json);

    /** The full PEFT JSON object (keys are sorted when written to a file). */
    public final JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("peft_type", peftType());
        o.add("target_modules", targetModules.toJson());
        o.add(
                "exclude_modules",
                excludeModules == null ? JsonNull.INSTANCE : excludeModules.toJson());
        if (!layersToTransform.isEmpty()) {
            JsonArray layers = new JsonArray();
            layersToTransform.forEach(layers::add);
            o.add("layers_to_transform", layers);
            if (!layersPattern.isEmpty()) {
                JsonArray patterns = new JsonArray();
                layersPattern.forEach(patterns::add);
                o.add("layers_pattern", patterns);
            }
        }
        if (modulesToSave.isEmpty()) {
            o.add("modules_to_save", JsonNull.INSTANCE);
        } else {
            JsonArray a = new JsonArray();
            modulesToSave.forEach(a::add);
            o.add("modules_to_save", a);
        }
        o.addProperty("task_type", taskType);
        o.addProperty("base_model_name_or_path", baseModelNameOrPath);
        o.addProperty("inference_mode", inferenceMode);
        o.add("revision", JsonNull.INSTANCE);
        writeFields(o);
        return o;
    }

    /** Which modules get an adapter. */
    public TargetModules targetModules() {
        return targetModules;
    }

    /** Modules excluded although targeted, or null. */
    public TargetModules excludeModules() {
        return excludeModules;
    }

    /** Modules trained in full and saved with the adapter (a classification head, say). */
    public List<String> modulesToSave() {
        return modulesToSave;
    }

    /** PEFT's task type ({@code SEQ_CLS}, {@code CAUSAL_LM}...) or null. */
    public String taskType() {
        return taskType;
    }

    /** The base model's name or path, or null. */
    public String baseModelNameOrPath() {
        return baseModelNameOrPath;
    }

    /** Whether the adapter was saved for inference only. */
    public boolean inferenceMode() {
        return inferenceMode;
    }

    /** The layer indices adapters are restricted to ({@code layers_to_transform}); empty for all. */
    public List<Integer> layersToTransform() {
        return layersToTransform;
    }

    /** The names of the layer lists the index follows ({@code layers_pattern}); empty for any. */
    public List<String> layersPattern() {
        return layersPattern;
    }

    /**
     * Whether the module at {@code path} gets an adapter of this config, as PEFT's {@code
     * check_target_module_exists} (tuners_utils.py): a target, not excluded, and with {@code
     * layers_to_transform} a module matched by a name's dotted suffix (not listed by its full path)
     * needs a layer index in that list: the first {@code .<name>.<index>.} in its path, with
     * {@code <name>} one of {@code layers_pattern} or any segment ({@code re.match(r".*?\.[^.]*\.(\d+)\.",
     * key)}).
     */
    public boolean selects(String path, boolean isLinear) {
        if (!targetModules.matches(path, isLinear)
                || (excludeModules != null && excludeModules.matches(path, isLinear))) {
            return false;
        }
        if (layersToTransform.isEmpty() || targetModules.listsExactly(path)) {
            return true;
        }
        for (Pattern p : layerIndexPatterns) {
            java.util.regex.Matcher m = p.matcher(path + ".");
            if (m.matches()) {
                return layersToTransform.contains(Integer.parseInt(m.group(1)));
            }
        }
        return false;
    }

    /**
     * Whether a path is a {@code modules_to_save} module or lies inside one: PEFT never puts an
     * adapter there ({@code tuners_utils.py}, {@code check_target_module_exists}: {@code
     * re.match(rf"(^|.*\.){m}($|\..*)", key)}), so a target name that also matches inside a saved
     * module (LoRA on {@code dense} beside {@code modules_to_save: ["pooler"]}) leaves it alone.
     */
    public boolean insideModulesToSave(String path) {
        for (String m : modulesToSave) {
            if (Pattern.compile("(^|.*\\.)" + m + "($|\\..*)").matcher(path).matches()) {
                return true;
            }
        }
        return false;
    }

    /** The shared builder. */
    public abstract static class Builder<T extends Builder<T>> {
        private TargetModules targetModules;
        private TargetModules excludeModules;
        private List<Integer> layersToTransform = List.of();
        private List<String> layersPattern = List.of();
        private List<String> modulesToSave = List.of();
        private String taskType;
        private String baseModelNameOrPath;
        private boolean inferenceMode;

        /** Returns this builder as its concrete type. */
        protected abstract T self();

        /** Builds and validates the config. */
        public abstract AdapterConfig build();

        /** Targets modules by name or dotted suffix (required unless set otherwise). */
        public T setTargetModules(String... names) {
            this.targetModules = TargetModules.names(names);
            return self();
        }

        /** Targets modules by name, a regex or all-linear. */
        public T setTargetModules(TargetModules targets) {
            this.targetModules = targets;
            return self();
        }

        /** Excludes modules from the targets. */
        public T optExcludeModules(TargetModules exclude) {
            this.excludeModules = exclude;
            return self();
        }

        /**
         * Restricts adapters to the layers with these indices (PEFT's {@code
         * layers_to_transform}), found after one of {@code patterns} ({@code layers_pattern}, e.g.
         * {@code "layers"}) or, with none, after any dotted name.
         */
        public T optLayersToTransform(List<Integer> indices, List<String> patterns) {
            this.layersToTransform = List.copyOf(indices);
            this.layersPattern = List.copyOf(patterns);
            return self();
        }

        /** Modules to train in full and save with the adapter. */
        public T optModulesToSave(String... names) {
            this.modulesToSave = List.of(names);
            return self();
        }

        /** PEFT's task type. */
        public T optTaskType(String taskType) {
            this.taskType = taskType;
            return self();
        }

        /** The base model's name or path, recorded in the config. */
        public T optBaseModelNameOrPath(String name) {
            this.baseModelNameOrPath = name;
            return self();
        }

        /** Marks the adapter as saved for inference. */
        public T optInferenceMode(boolean inferenceMode) {
            this.inferenceMode = inferenceMode;
            return self();
        }

        /** Checks the shared fields; subclasses call it first in {@code build()}. */
        protected void validate() {
            if (targetModules == null) {
                throw new IllegalArgumentException("target_modules is required (setTargetModules)");
            }
            // PEFT's LoraConfig.__post_init__ rules
            if (targetModules.isRegex() && !layersToTransform.isEmpty()) {
                throw new IllegalArgumentException(
                        "layers_to_transform cannot be used when target_modules is a regex string");
            }
            if (!layersPattern.isEmpty() && layersToTransform.isEmpty()) {
                throw new IllegalArgumentException(
                        "layers_pattern needs layers_to_transform (PEFT refuses it alone)");
            }
            for (String p : layersPattern) {
                try {
                    Pattern.compile(p);
                } catch (java.util.regex.PatternSyntaxException e) {
                    throw new IllegalArgumentException(
                            "layers_pattern: invalid regular expression '" + p + "'");
                }
            }
        }

        /** Reads the shared keys from a PEFT config. */
        public T readCommon(ConfigJson json) {
            this.targetModules =
                    TargetModules.fromJson(
                            json.require("target_modules"), json.source() + ": target_modules");
            if (json.has("exclude_modules")) {
                this.excludeModules =
                        TargetModules.fromJson(
                                json.get("exclude_modules"), json.source() + ": exclude_modules");
            }
            JsonElement layers = json.get("layers_to_transform");
            List<Integer> indices = new ArrayList<>();
            if (layers != null) {
                if (layers.isJsonArray()) {
                    layers.getAsJsonArray().forEach(x -> indices.add(layerIndex(json, x)));
                } else {
                    indices.add(layerIndex(json, layers));
                }
            }
            this.layersToTransform = indices;
            this.layersPattern = json.getStringList("layers_pattern");
            this.modulesToSave = json.getStringList("modules_to_save");
            this.taskType = json.getString("task_type", null);
            this.baseModelNameOrPath = json.getString("base_model_name_or_path", null);
            this.inferenceMode = json.getBoolean("inference_mode", false);
            json.get("revision");
            json.get("peft_type");
            for (String harmless : new String[] {"auto_mapping", "peft_version"}) {
                json.get(harmless);
            }
            return self();
        }

        private static int layerIndex(ConfigJson json, JsonElement e) {
            if (e.isJsonPrimitive()
                    && e.getAsJsonPrimitive().isNumber()
                    && e.getAsDouble() == Math.rint(e.getAsDouble())
                    && e.getAsDouble() >= 0) {
                return e.getAsInt();
            }
            throw json.error(
                    "layers_to_transform must be a layer index or a list of them (non-negative"
                            + " integers), got "
                            + e);
        }
    }
}
