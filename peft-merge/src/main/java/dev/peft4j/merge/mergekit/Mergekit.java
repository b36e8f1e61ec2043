package dev.peft4j.merge.mergekit;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.Checkpoints;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.MergeListener;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.merge.TensorLoop;
import dev.peft4j.merge.mergekit.MergekitConfig.ModelEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a mergekit config ({@link MergekitConfig}) as mergekit-yaml does, tensor by tensor: for
 * each tensor of the reference model (the {@code base_model}, else the first model) the inputs are
 * every model's tensor in mergekit's order, the parameters are evaluated for that tensor (its
 * name for {@code filter}s, its layer position {@code t = layer / (num_layers - 1)} for
 * gradients, 0 outside the layers, as plan.py 267-298), and the method's result is written.
 *
 * <p>Deliberate differences from mergekit, documented in docs/merging.md: arithmetic in float32
 * (inputs rounded to {@code dtype} first; mergekit computes in {@code dtype}), one rounding to the
 * output dtype; random masks (DARE, DELLA) from a seeded generator per tensor and model; shape
 * mismatches are errors (mergekit truncates embeddings to the smallest vocabulary); a parameter
 * no method reads is an error (mergekit ignores it).
 */
public final class Mergekit {

    /** Container names whose next dotted segment is a layer index ({@code model.layers.3.mlp...}). */
    /** The config.json keys of a model's layer count, in the order they are looked for. */
    static final List<String> LAYER_COUNT_KEYS =
            List.of("num_hidden_layers", "n_layer", "num_layers");

    static final Pattern LAYER =
            Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d+)\\.");

    private Mergekit() {}

    /** Options of a run: the seed of random masks, the device, progress, the shard size. */
    public record RunOptions(long seed, Device device, MergeListener listener, long maxShardBytes) {
        /** Seed 0, the default device, no progress, 5 GB shards. */
        public static RunOptions defaults() {
            return new RunOptions(
                    0,
                    null,
                    MergeListener.NONE,
                    dev.peft4j.core.io.ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES);
        }
    }

    /** One input model as opened for the run. */
    private record Source(String name, ModelEntry entry, boolean isBase, Candidate candidate) {}

    /** Merges {@code config} into the folder {@code out} (published atomically when done). */
    public static MergeReport run(MergekitConfig config, Path out, RunOptions options)
            throws IOException {
        long start = System.nanoTime();
        String file = config.source().toString();
        MergekitMethod method = MergekitMethod.of(config.method(), file);
        checkParameterNames(config, method);
        if (!config.slices().isEmpty()) {
            return Slices.run(config, method, out, options, start);
        }
        Path base = config.baseModel();
        if (method.needsBase() && base == null) {
            throw new IllegalArgumentException(
                    file + ": merge_method " + method.peftName + " needs a base_model");
        }
        Path reference = base != null ? base : config.models().get(0).model();
        List<Source> sources = new ArrayList<>();
        try (TensorSource ref = Checkpoints.open(reference)) {
            try {
                open(config, ref, reference, sources);
                int numLayers = numLayers(reference, ref.keys());
                List<Candidate> candidates =
                        sources.stream().map(Source::candidate).filter(c -> c != null).toList();
                List<String> notes =
                        candidates.isEmpty() ? List.of() : TensorLoop.validate(ref, candidates);
                ModelFolderOutput.Builder b = output(config, out, reference, options);
                int[] written = {0};
                try (ModelFolderOutput output = b.build();
                        NDManager root = NDManager.newBaseManager(options.device())) {
                    TensorLoop.run(
                            ref,
                            root,
                            options.listener(),
                            "merging " + sources.size() + " models (" + method.peftName + ")",
                            (key, theta0, scope) -> {
                                NDArray merged =
                                        mergeTensor(
                                                config,
                                                method,
                                                sources,
                                                key,
                                                theta0,
                                                numLayers,
                                                options.seed(),
                                                scope);
                                output.write(key, merged, Delta.zero(), ref.info(key).dtype());
                                written[0]++;
                            },
                            (key, raw, scope) ->
                                    output.write(key, raw, Delta.zero(), raw.getDataType()));
                    output.commit();
                    Map<String, Object> report = new LinkedHashMap<>();
                    config.parameters().forEach((k, v) -> report.put(k, v.toString()));
                    return new MergeReport(
                            method.peftName,
                            report,
                            sources.stream().map(Source::name).toList(),
                            ref.keys().size(),
                            written[0],
                            (System.nanoTime() - start) / 1e9,
                            output.describe(),
                            output.bytes(),
                            new LinkedHashMap<>(),
                            notes);
                }
            } finally {
                for (Source s : sources) {
                    if (s.candidate() != null) {
                        s.candidate().close();
                    }
                }
            }
        }
    }

    /**
     * The output folder as mergekit writes it: the reference's other files (config.json saying the
     * output dtype), and the config itself as {@code mergekit_config.yml}.
     */
    static ModelFolderOutput.Builder output(
            MergekitConfig config, Path out, Path reference, RunOptions options)
            throws IOException {
        ModelFolderOutput.Builder b =
                ModelFolderOutput.builder()
                        .setDirectory(out)
                        .optMaxShardBytes(options.maxShardBytes())
                        .optCopyFilesFrom(reference)
                        .optDtype(config.outputDtype());
        if (Files.isRegularFile(config.source())) {
            b.optExtraFile("mergekit_config.yml", Files.readAllBytes(config.source()));
        }
        return b;
    }

    private static void open(
            MergekitConfig config, TensorSource ref, Path reference, List<Source> out)
            throws IOException {
        Path base = config.baseModel();
        Set<String> names = new HashSet<>();
        boolean baseListed = false;
        List<ModelEntry> entries = new ArrayList<>(config.models());
        for (ModelEntry e : config.models()) {
            baseListed |= base != null && e.lora() == null && e.model().equals(base);
        }
        if (base != null && !baseListed) {
            entries.add(new ModelEntry(base, null, Map.of())); // plan.py 141-154: base appended
        }
        for (ModelEntry e : entries) {
            boolean isBase = base != null && e.lora() == null && e.model().equals(base);
            String name =
                    unique(Candidate.defaultName(e.lora() != null ? e.lora() : e.model()), names);
            Candidate c = null;
            if (e.lora() != null) {
                if (!e.model().equals(reference)) {
                    throw new IllegalArgumentException(
                            config.source()
                                    + ": model '"
                                    + e.reference()
                                    + "': a LoRA must be on the merge's reference model "
                                    + reference
                                    + " (the base_model, or the first model)");
                }
                c = Candidate.open(e.lora(), name, ref);
            } else if (!e.model().equals(reference)) {
                c = Candidate.open(e.model(), name, ref);
            }
            out.add(new Source(name, e, isBase, c));
        }
    }

    private static String unique(String name, Set<String> taken) {
        String n = name;
        for (int i = 2; !taken.add(n); i++) {
            n = name + "-" + i;
        }
        return n;
    }

    /** One input of a tensor's merge: where its parameters are looked up, and its tensor. */
    record InputSpec(
            String name,
            boolean isBase,
            List<Map<String, Setting>> parameters,
            TensorSupplier tensor) {}

    /** Loads one input tensor (float32) into a scope. */
    @FunctionalInterface
    interface TensorSupplier {
        NDArray load(NDManager scope) throws IOException;
    }

    private static NDArray mergeTensor(
            MergekitConfig config,
            MergekitMethod method,
            List<Source> sources,
            String key,
            NDArray theta0,
            int numLayers,
            long seed,
            NDManager scope)
            throws IOException {
        List<InputSpec> specs = new ArrayList<>();
        for (Source s : sources) {
            specs.add(
                    new InputSpec(
                            s.name(),
                            s.isBase(),
                            List.of(s.entry().parameters(), config.parameters()),
                            sc ->
                                    s.candidate() == null
                                            ? theta0
                                            : s.candidate().weights(key, theta0, sc)));
        }
        return mergeOne(
                config,
                method,
                key,
                layerPosition(key, numLayers, config),
                List.of(config.parameters()),
                specs,
                theta0.getShape(),
                seed,
                scope);
    }

    /**
     * Merges one output tensor: global parameters looked up in {@code globalParameters} in order,
     * each input's in its own list (mergekit's ConfigReader.parameter order), then the defaults.
     */
    static NDArray mergeOne(
            MergekitConfig config,
            MergekitMethod method,
            String key,
            double t,
            List<Map<String, Setting>> globalParameters,
            List<InputSpec> specs,
            ai.djl.ndarray.types.Shape shape,
            long seed,
            NDManager scope)
            throws IOException {
        Map<String, Object> globals = new LinkedHashMap<>();
        for (Map.Entry<String, Object> def : method.globals.entrySet()) {
            Object v = lookup(globalParameters, def.getKey(), key, t);
            if (v == null) {
                v = def.getValue();
            }
            if (v == null) {
                throw new IllegalArgumentException(
                        config.source()
                                + ": missing required parameter "
                                + def.getKey()
                                + " for "
                                + key);
            }
            globals.put(def.getKey(), v);
        }
        List<MergekitMethod.Lazy> lazies = new ArrayList<>();
        long[] seeds = new long[specs.size()];
        for (int i = 0; i < specs.size(); i++) {
            InputSpec s = specs.get(i);
            Map<String, Object> params = new LinkedHashMap<>();
            for (Map.Entry<String, Object> def : method.tensorParams.entrySet()) {
                Object v = lookup(s.parameters(), def.getKey(), key, t);
                if (v == null) {
                    v = def.getValue();
                }
                if (v == null && !s.isBase() && requiredTensorParam(method, def.getKey())) {
                    throw new IllegalArgumentException(
                            config.source()
                                    + ": missing required parameter "
                                    + def.getKey()
                                    + " for "
                                    + s.name()
                                    + "."
                                    + key);
                }
                params.put(def.getKey(), v);
            }
            MergekitMethod.Loader loader =
                    sc -> {
                        NDArray x = s.tensor().load(sc);
                        if (!x.getShape().equals(shape)) {
                            throw new IllegalArgumentException(
                                    config.source()
                                            + ": tensor '"
                                            + key
                                            + "' of '"
                                            + s.name()
                                            + "' has shape "
                                            + x.getShape()
                                            + ", expected "
                                            + shape
                                            + " (mergekit would cut embeddings to the smallest"
                                            + " vocabulary; peft4j refuses)");
                        }
                        return Precision.round(x, config.dtype());
                    };
            lazies.add(new MergekitMethod.Lazy(s.name(), s.isBase(), loader, params));
            seeds[i] = seed * 0x9E3779B97F4A7C15L + 31L * key.hashCode() + i;
        }
        NDArray merged;
        if (method.isGta()) {
            // one model's tensor at a time: memory does not grow with the number of models
            merged = method.gtaStreaming(key, lazies, globals, seeds, scope);
        } else {
            List<MergekitMethod.Input> inputs = new ArrayList<>();
            for (MergekitMethod.Lazy l : lazies) {
                inputs.add(
                        new MergekitMethod.Input(
                                l.model(), l.isBase(), l.loader().load(scope), l.params()));
            }
            merged = method.merge(key, inputs, globals);
        }
        if (!merged.getShape().equals(shape)) {
            throw new IllegalStateException(
                    "tensor '"
                            + key
                            + "': merged shape "
                            + merged.getShape()
                            + " differs from "
                            + shape);
        }
        merged = merged.toType(DataType.FLOAT32, false);
        merged.attach(scope);
        return merged;
    }

    private static Object lookup(
            List<Map<String, Setting>> maps, String name, String key, double t) {
        for (Map<String, Setting> m : maps) {
            Object v = evaluate(m.get(name), key, t);
            if (v != null) {
                return v;
            }
        }
        return null;
    }

    private static boolean requiredTensorParam(MergekitMethod method, String name) {
        return !name.equals("scale"); // passthrough's scale is optional
    }

    private static Object evaluate(Setting s, String key, double t) {
        return s == null ? null : s.evaluate(key, t);
    }

    /** Every parameter the config gives is one the method reads. */
    static void checkParameterNames(MergekitConfig config, MergekitMethod method) {
        Set<String> known = new HashSet<>(method.globals.keySet());
        known.addAll(method.tensorParams.keySet());
        List<Map<String, Setting>> maps = new ArrayList<>();
        maps.add(config.parameters());
        config.models().forEach(m -> maps.add(m.parameters()));
        for (MergekitConfig.SliceDef slice : config.slices()) {
            maps.add(slice.parameters());
            slice.sources().forEach(src -> maps.add(src.parameters()));
        }
        for (Map<String, Setting> m : maps) {
            for (String k : m.keySet()) {
                if (!known.contains(k)) {
                    throw new IllegalArgumentException(
                            config.source()
                                    + ": merge_method "
                                    + method.peftName
                                    + " has no parameter '"
                                    + k
                                    + "'; it reads "
                                    + known);
                }
            }
        }
    }

    /**
     * The layer position {@code t} of a tensor: {@code i / (num_layers - 1)} for a tensor of layer
     * {@code i} (1 with one layer), 0 for tensors outside the layers (embeddings, final norms),
     * as mergekit's planner gives them (plan.py 284-298 and 304).
     */
    static double layerPosition(String key, int numLayers, MergekitConfig config) {
        Matcher m = LAYER.matcher(key);
        if (!m.find()) {
            return 0;
        }
        if (numLayers <= 0) {
            throw new IllegalArgumentException(
                    config.source()
                            + ": tensor '"
                            + key
                            + "' is in a layer but the reference model has no layer count"
                            + " (config.json's num_hidden_layers, or layer indices in its names)");
        }
        int layer = Integer.parseInt(m.group(1));
        return numLayers > 1 ? layer / (double) (numLayers - 1) : 1;
    }

    /**
     * {@code num_hidden_layers} (or GPT-2's {@code n_layer}) of a model folder's config.json; when
     * it has none, one more than the largest layer index among the tensor names; 0 without layers.
     */
    static int numLayers(Path folder, List<String> keys) throws IOException {
        Path cfg = folder.resolve("config.json");
        if (Files.isRegularFile(cfg)) {
            JsonObject o = JsonParser.parseString(Files.readString(cfg)).getAsJsonObject();
            for (String k : LAYER_COUNT_KEYS) {
                JsonElement e = o.get(k);
                if (e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
                    return e.getAsInt();
                }
            }
        }
        int max = -1;
        for (String key : keys) {
            Matcher m = LAYER.matcher(key);
            if (m.find()) {
                max = Math.max(max, Integer.parseInt(m.group(1)));
            }
        }
        return max + 1;
    }
}
