package dev.peft4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.SafetensorsWriter;
import dev.peft4j.core.tree.ModuleTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Adapter folders in the Hugging Face PEFT layout: {@code adapter_config.json} (sorted keys,
 * 2-space indent) and {@code adapter_model.safetensors} (metadata {@code {"format": "pt"}}) with
 * keys {@code base_model.model.<module path>.<tensor>} and the adapter name stripped.
 *
 * <p>Saving publishes the whole folder atomically: a crash or a refused save (NaN weights) leaves
 * what was there before. Loading checks every key and shape before it changes the model and
 * removes the half-added adapter on any error.
 */
public final class AdapterCheckpoint {

    /** The config file name. */
    public static final String CONFIG_FILE = "adapter_config.json";

    /** The weights file name. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    /** The key prefix PEFT writes before module paths. */
    public static final String PREFIX = "base_model.model.";

    private AdapterCheckpoint() {}

    /** The checkpoint tensors of one adapter, by full key (arrays still owned by the model). */
    public static LinkedHashMap<String, NDArray> tensors(PeftModel model, String name) {
        return tensors(model, name, false, null, new LinkedHashMap<>());
    }

    /**
     * The tensors of one adapter, converted for the original base when {@code original} (new arrays
     * on {@code scope}); otherwise each module's checkpoint metadata is added to {@code metadata}.
     */
    private static LinkedHashMap<String, NDArray> tensors(
            PeftModel model,
            String name,
            boolean original,
            NDManager scope,
            Map<String, String> metadata) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        model.adapters(name)
                .forEach(
                        (path, adapter) -> {
                            Map<String, NDArray> state =
                                    original
                                            ? adapter.stateDictForOriginalBase(scope)
                                            : adapter.stateDict();
                            state.forEach(
                                    (key, array) -> out.put(PREFIX + path + "." + key, array));
                            if (!original) {
                                adapter.checkpointMetadata()
                                        .forEach(
                                                (key, value) ->
                                                        metadata.put(
                                                                PREFIX + path + "." + key, value));
                            }
                        });
        moduleToSaveParameters(model, name)
                .forEach((key, p) -> out.put(PREFIX + key, p.getArray()));
        return out;
    }

    /** Parameters of the modules to save by HF-style key relative to the root ({@code classifier.weight}). */
    static LinkedHashMap<String, Parameter> moduleToSaveParameters(PeftModel model, String name) {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>();
        model.modulesToSave(name)
                .forEach(
                        (path, block) ->
                                ModuleTree.modules(block)
                                        .forEach(
                                                (sub, b) ->
                                                        b.getDirectParameters()
                                                                .forEach(
                                                                        p ->
                                                                                out.put(
                                                                                        ModuleTree
                                                                                                .join(
                                                                                                        ModuleTree
                                                                                                                .join(
                                                                                                                        path,
                                                                                                                        sub),
                                                                                                        p
                                                                                                                .getKey()),
                                                                                        p
                                                                                                .getValue()))));
        return out;
    }

    /** Writes one adapter into {@code dir} (replacing the folder as a whole, atomically). */
    public static void save(PeftModel model, String name, Path dir, SaveOption... options)
            throws IOException {
        try (NDManager scope = NDManager.newBaseManager()) {
            Export export = export(model, name, dir, scope, options);
            AtomicFiles.publishDirectory(dir, staging -> export.write(staging));
        }
    }

    /**
     * Publishes an adapter folder made of a config and its tensors (keys with {@link #PREFIX}),
     * atomically, metadata {@code {"format": "pt"}}: for adapters built outside a {@link
     * PeftModel} (a merge's output, a benchmark's fixture).
     */
    public static void writeFolder(Path dir, AdapterConfig config, Map<String, NDArray> tensors)
            throws IOException {
        Export export = new Export(config, new LinkedHashMap<>(tensors), Map.of("format", "pt"));
        AtomicFiles.publishDirectory(dir, export::write);
    }

    /**
     * Writes every adapter the way PEFT's {@code save_pretrained} does: {@code default} in
     * {@code dir}, every other adapter in {@code dir/<name>}; the folder is published atomically.
     */
    public static void saveAll(PeftModel model, Path dir, SaveOption... options)
            throws IOException {
        try (NDManager scope = NDManager.newBaseManager()) {
            Map<String, Export> all = new LinkedHashMap<>();
            for (String name : model.configs().keySet()) {
                all.put(name, export(model, name, dir, scope, options));
            }
            AtomicFiles.publishDirectory(
                    dir,
                    staging -> {
                        for (Map.Entry<String, Export> e : all.entrySet()) {
                            Path target =
                                    PeftModel.DEFAULT.equals(e.getKey())
                                            ? staging
                                            : staging.resolve(e.getKey());
                            Files.createDirectories(target);
                            e.getValue().write(target);
                        }
                    });
        }
    }

    /** What is written for one adapter: its config, its tensors by full key and the safetensors metadata. */
    private record Export(
            AdapterConfig config,
            LinkedHashMap<String, NDArray> tensors,
            Map<String, String> metadata) {
        void write(Path folder) throws IOException {
            JsonIO.writeSorted(folder.resolve(CONFIG_FILE), config.toJson());
            SafetensorsWriter.write(folder.resolve(WEIGHTS_FILE), tensors, metadata);
        }
    }

    /**
     * The export of one adapter: as it is (with each module's {@link Adapter#checkpointMetadata()}),
     * or converted for the original base with {@link SaveOption#FOR_ORIGINAL_BASE}.
     */
    private static Export export(
            PeftModel model, String name, Path dir, NDManager scope, SaveOption... options) {
        boolean original = List.of(options).contains(SaveOption.FOR_ORIGINAL_BASE);
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        LinkedHashMap<String, NDArray> tensors = tensors(model, name, original, scope, metadata);
        requireFinite(tensors, name, dir);
        AdapterConfig config = model.config(name);
        return new Export(original ? config.forOriginalBase() : config, tensors, metadata);
    }

    private static void requireFinite(Map<String, NDArray> tensors, String name, Path dir) {
        tensors.forEach(
                (key, a) -> {
                    if (!Finiteness.isFinite(a)) {
                        throw new IllegalStateException(
                                "Refusing to save adapter '"
                                        + name
                                        + "' to "
                                        + dir
                                        + ": tensor '"
                                        + key
                                        + "' contains NaN or Inf (nothing was written)");
                    }
                });
    }

    /**
     * A checkpoint key (without {@link #PREFIX}) split into the adapted module's path and the
     * method's tensor name: {@code encoder.layer.0.query.lora_A.weight} with prefix {@code "lora_"}
     * is {@code encoder.layer.0.query} and {@code lora_A.weight}.
     */
    public record ModuleTensor(String module, String tensor) {}

    /**
     * Splits {@code key} at its first dotted segment after the first that starts with the method's
     * {@code tensorPrefix}; null when there is none (a full tensor of {@code modules_to_save}).
     */
    public static ModuleTensor splitKey(String key, String tensorPrefix) {
        for (int start = key.indexOf('.') + 1; start > 0; start = key.indexOf('.', start) + 1) {
            if (key.startsWith(tensorPrefix, start)) {
                return new ModuleTensor(key.substring(0, start - 1), key.substring(start));
            }
        }
        return null;
    }

    /** Reads and parses a folder's {@code adapter_config.json} with the registered method. */
    public static AdapterConfig readConfig(Path dir) throws IOException {
        AtomicFiles.recover(dir); // a folder a killed save was replacing
        Path file = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(
                    file.toString(), null, "not an adapter folder: no " + CONFIG_FILE);
        }
        return AdapterMethods.parse(new ConfigJson(JsonIO.readObject(file), file.toString()));
    }

    /** Loads the adapter folder {@code dir} onto {@code model} under {@code name}. */
    public static void load(PeftModel model, Path dir, String name) throws IOException {
        AdapterConfig config = readConfig(dir);
        Path file = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "adapter folder without weights");
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            model.addAdapter(name, config, true);
            try {
                fill(model, name, reader, file);
            } catch (IOException | RuntimeException e) {
                model.deleteAdapter(name);
                throw e;
            }
        }
    }

    private static void fill(PeftModel model, String name, SafetensorsReader reader, Path file)
            throws IOException {
        String source = file.toString();
        TreeSet<String> unused = new TreeSet<>(reader.keys());
        Map<String, Parameter> heads = moduleToSaveParameters(model, name);
        Map<Parameter, String> headKeys = new HashMap<>();
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : heads.entrySet()) {
            String key = headKey(reader, e.getKey());
            if (key == null) {
                missing.add(PREFIX + e.getKey());
            } else {
                headKeys.put(e.getValue(), key);
                unused.remove(key);
            }
        }
        for (Map.Entry<String, Adapter> e : model.adapters(name).entrySet()) {
            for (String key : e.getValue().stateDict().keySet()) {
                String full = PREFIX + e.getKey() + "." + key;
                if (!unused.remove(full)) {
                    missing.add(full);
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(
                    source
                            + ": missing tensors "
                            + head(missing)
                            + " (the folder was saved for another model or other target_modules?)");
        }
        if (!unused.isEmpty()) {
            throw new IllegalArgumentException(
                    source
                            + ": unexpected tensors "
                            + head(new ArrayList<>(unused))
                            + " that no adapted module of this model uses");
        }
        Map<String, Adapter> adapters = model.adapters(name);
        // checks first, the base-changing verifyLoaded last: a refused load changes nothing
        adapters.forEach(
                (path, a) -> a.checkBeforeLoad(moduleMetadata(reader.metadata(), path), source));
        try (NDManager scope = NDManager.newBaseManager()) {
            for (Map.Entry<String, Adapter> e : adapters.entrySet()) {
                Map<String, NDArray> values = new HashMap<>();
                for (String key : e.getValue().stateDict().keySet()) {
                    values.put(key, reader.load(PREFIX + e.getKey() + "." + key, scope));
                }
                e.getValue().loadStateDict(values, source);
            }
            loadHeads(heads, headKeys, reader, scope, source);
        }
        adapters.forEach(
                (path, a) -> a.verifyLoaded(moduleMetadata(reader.metadata(), path), source));
    }

    /** The metadata entries of one module, keys relative to it. */
    public static Map<String, String> moduleMetadata(Map<String, String> metadata, String path) {
        String prefix = PREFIX + path + ".";
        Map<String, String> out = new LinkedHashMap<>();
        metadata.forEach(
                (k, v) -> {
                    if (k.startsWith(prefix)) {
                        out.put(k.substring(prefix.length()), v);
                    }
                });
        return out;
    }

    private static void loadHeads(
            Map<String, Parameter> heads,
            Map<Parameter, String> keys,
            SafetensorsReader reader,
            NDManager scope,
            String source)
            throws IOException {
        Map<Parameter, NDArray> values = new LinkedHashMap<>();
        for (Parameter p : heads.values()) {
            NDArray v = reader.load(keys.get(p), scope);
            if (!v.getShape().equals(p.getArray().getShape())) {
                throw new IllegalArgumentException(
                        source
                                + ": tensor '"
                                + keys.get(p)
                                + "' has shape "
                                + v.getShape()
                                + ", expected "
                                + p.getArray().getShape());
            }
            values.put(p, v);
        }
        values.forEach(
                (p, v) ->
                        p.getArray()
                                .set(
                                        new NDIndex("..."),
                                        v.toType(p.getArray().getDataType(), false)));
    }

    /** The key of a module-to-save tensor: PEFT's current form, or the older {@code modules_to_save} form. */
    private static String headKey(SafetensorsReader reader, String relative) {
        String current = PREFIX + relative;
        if (reader.contains(current)) {
            return current;
        }
        int dot = relative.lastIndexOf('.');
        String old =
                PREFIX + relative.substring(0, dot) + ".modules_to_save" + relative.substring(dot);
        return reader.contains(old) ? old : null;
    }

    private static String head(List<String> keys) {
        return keys.size() <= 6
                ? keys.toString()
                : keys.subList(0, 6) + " and " + (keys.size() - 6) + " more";
    }

    /** Creates a PeftModel on {@code root} with the folder's adapter as {@code default}. */
    public static PeftModel load(Block root, Path dir) throws IOException {
        PeftModel model = PeftModel.of(root);
        load(model, dir, PeftModel.DEFAULT);
        return model;
    }
}
