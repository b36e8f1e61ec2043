package dev.peft4j.merge.mergekit;

import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A mergekit YAML config ({@code MergeConfiguration}, mergekit/config.py 81-101), read as
 * mergekit-yaml reads it: {@code merge_method}, {@code base_model}, {@code models} with per-model
 * {@code parameters}, global {@code parameters}, {@code dtype}, {@code out_dtype}, {@code
 * tokenizer_source}. Model paths are local folders (relative to the config's folder) or {@code
 * MODEL+LORA}. Keys mergekit has that peft4j does not implement ({@code slices}, {@code modules},
 * {@code tokenizer}, {@code chat_template}, other tokenizer sources) are refused by name; unknown
 * keys are errors naming the file.
 */
public final class MergekitConfig {

    private static final Set<String> TOP =
            Set.of(
                    "merge_method",
                    "base_model",
                    "models",
                    "parameters",
                    "dtype",
                    "out_dtype",
                    "tokenizer_source",
                    "slices",
                    "modules",
                    "tokenizer",
                    "chat_template",
                    "name");

    /** One source of a slice: a model folder, its layers {@code [start, end)}, its parameters. */
    public record SliceSource(Path model, int start, int end, Map<String, Setting> parameters) {}

    /** One output slice ({@code OutputSliceDefinition}): its sources, base model and parameters. */
    public record SliceDef(
            List<SliceSource> sources, Path baseModel, Map<String, Setting> parameters) {
        /** The number of layers every source gives. */
        public int length() {
            return sources.get(0).end() - sources.get(0).start();
        }
    }

    /** One input model: its folder, an optional LoRA folder on it, and its parameters. */
    public record ModelEntry(Path model, Path lora, Map<String, Setting> parameters) {
        /** The reference as mergekit writes it ({@code path} or {@code path+lora}). */
        public String reference() {
            return lora == null ? model.toString() : model + "+" + lora;
        }
    }

    private final Path source;
    private final String method;
    private final Path baseModel;
    private final List<ModelEntry> models;
    private final List<SliceDef> slices;
    private final Map<String, Setting> parameters;
    private final DataType dtype;
    private final DataType outDtype;

    private MergekitConfig(
            Path source,
            String method,
            Path baseModel,
            List<ModelEntry> models,
            List<SliceDef> slices,
            Map<String, Setting> parameters,
            DataType dtype,
            DataType outDtype) {
        this.source = source;
        this.method = method;
        this.baseModel = baseModel;
        this.models = models;
        this.slices = slices;
        this.parameters = parameters;
        this.dtype = dtype;
        this.outDtype = outDtype;
    }

    /** Whether a parsed YAML document is a mergekit config (it has {@code merge_method}). */
    public static boolean isMergekit(Map<?, ?> document) {
        return document.containsKey("merge_method");
    }

    /** Reads a YAML document (no tags, no aliases to arbitrary classes). */
    public static Map<String, Object> readDocument(Path file) throws IOException {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        Yaml yaml = new Yaml(new SafeConstructor(options));
        Object doc;
        try (Reader r = Files.newBufferedReader(file)) {
            doc = yaml.load(r);
        } catch (YAMLException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: " + e.getMessage(), e);
        }
        if (!(doc instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException(file + ": expected a mapping at the top level");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        map.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    /** Reads and checks a mergekit config file. */
    public static MergekitConfig read(Path file) throws IOException {
        return parse(readDocument(file), file);
    }

    /** Checks a parsed document; {@code file} names it in errors and anchors relative paths. */
    @SuppressWarnings("unchecked")
    public static MergekitConfig parse(Map<String, Object> doc, Path file) {
        for (String k : doc.keySet()) {
            if (!TOP.contains(k)) {
                throw new IllegalArgumentException(
                        file + ": unknown key '" + k + "'; mergekit's keys are " + TOP);
            }
        }
        for (String k : List.of("modules", "tokenizer", "chat_template")) {
            if (doc.get(k) != null) {
                throw new IllegalArgumentException(
                        file
                                + ": '"
                                + k
                                + "' is not implemented in peft4j yet; use models: or slices:"
                                + " with tokenizer_source: base");
            }
        }
        Object ts = doc.get("tokenizer_source");
        if (ts != null && !"base".equals(ts)) {
            throw new IllegalArgumentException(
                    file
                            + ": tokenizer_source '"
                            + ts
                            + "' is not implemented; only 'base' (the base model's tokenizer files"
                            + " are copied, mergekit's default too)");
        }
        Object m = doc.get("merge_method");
        if (!(m instanceof String method)) {
            throw new IllegalArgumentException(
                    file + ": merge_method must be a method name, got " + m);
        }
        Path folder = file.toAbsolutePath().getParent();
        Path base =
                doc.get("base_model") == null
                        ? null
                        : path(doc.get("base_model"), folder, file, "base_model");
        Object ms = doc.get("models");
        Object sl = doc.get("slices");
        if ((ms == null) == (sl == null)) {
            throw new IllegalArgumentException(
                    file + ": give exactly one of models and slices (mergekit's rule)");
        }
        List<SliceDef> slices = sl == null ? List.of() : slices(sl, folder, file);
        if (ms == null) {
            return new MergekitConfig(
                    file,
                    method,
                    base,
                    List.of(),
                    slices,
                    settings((Map<String, Object>) doc.get("parameters"), file + ": parameters"),
                    dtype(doc.get("dtype"), file + ": dtype"),
                    dtype(doc.get("out_dtype"), file + ": out_dtype"));
        }
        if (!(ms instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(file + ": models must be a non-empty list");
        }
        List<ModelEntry> models = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = file + ": models[" + i + "]";
            Object e = list.get(i);
            if (!(e instanceof Map<?, ?> entry)) {
                throw new IllegalArgumentException(
                        where + ": expected {model, parameters}, got " + e);
            }
            for (Object k : entry.keySet()) {
                if (!"model".equals(k) && !"parameters".equals(k)) {
                    throw new IllegalArgumentException(
                            where + ": unknown key '" + k + "' (model, parameters)");
                }
            }
            String ref = String.valueOf(entry.get("model"));
            if (entry.get("model") == null) {
                throw new IllegalArgumentException(where + ": model is required");
            }
            Path model;
            Path lora = null;
            int plus = ref.indexOf('+');
            if (plus >= 0) {
                model = path(ref.substring(0, plus), folder, file, where + ".model");
                lora = path(ref.substring(plus + 1), folder, file, where + ".model (LoRA)");
            } else {
                model = path(ref, folder, file, where + ".model");
            }
            models.add(
                    new ModelEntry(
                            model,
                            lora,
                            settings(
                                    (Map<String, Object>) entry.get("parameters"),
                                    where + ".parameters")));
        }
        Map<String, Setting> params =
                settings((Map<String, Object>) doc.get("parameters"), file + ": parameters");
        return new MergekitConfig(
                file,
                method,
                base,
                models,
                slices,
                params,
                dtype(doc.get("dtype"), file + ": dtype"),
                dtype(doc.get("out_dtype"), file + ": out_dtype"));
    }

    @SuppressWarnings("unchecked")
    private static List<SliceDef> slices(Object sl, Path folder, Path file) {
        if (!(sl instanceof List<?> list) || list.isEmpty()) {
            throw new IllegalArgumentException(file + ": slices must be a non-empty list");
        }
        List<SliceDef> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = file + ": slices[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw new IllegalArgumentException(
                        where + ": expected {sources, base_model, parameters}");
            }
            for (Object k : m.keySet()) {
                if (!Set.of("sources", "base_model", "parameters", "residual_weight").contains(k)) {
                    throw new IllegalArgumentException(where + ": unknown key '" + k + "'");
                }
            }
            if (m.get("residual_weight") != null) {
                throw new IllegalArgumentException(where + ": residual_weight is not implemented");
            }
            if (!(m.get("sources") instanceof List<?> srcs) || srcs.isEmpty()) {
                throw new IllegalArgumentException(where + ": sources must be a non-empty list");
            }
            List<SliceSource> sources = new ArrayList<>();
            for (int j = 0; j < srcs.size(); j++) {
                String w = where + ".sources[" + j + "]";
                if (!(srcs.get(j) instanceof Map<?, ?> src)) {
                    throw new IllegalArgumentException(
                            w + ": expected {model, layer_range, parameters}");
                }
                for (Object k : src.keySet()) {
                    if (!Set.of("model", "layer_range", "parameters").contains(k)) {
                        throw new IllegalArgumentException(w + ": unknown key '" + k + "'");
                    }
                }
                String ref = String.valueOf(src.get("model"));
                if (src.get("model") == null || ref.contains("+")) {
                    throw new IllegalArgumentException(
                            w
                                    + ": model must be a model folder (no +LORA in slices), got "
                                    + src.get("model"));
                }
                if (!(src.get("layer_range") instanceof List<?> r)
                        || r.size() != 2
                        || !(r.get(0) instanceof Integer a)
                        || !(r.get(1) instanceof Integer b)
                        || a < 0
                        || b <= a) {
                    throw new IllegalArgumentException(
                            w
                                    + ": layer_range must be [start, end) with 0 <= start < end,"
                                    + " got "
                                    + src.get("layer_range"));
                }
                sources.add(
                        new SliceSource(
                                path(ref, folder, file, w + ".model"),
                                a,
                                b,
                                settings(
                                        (Map<String, Object>) src.get("parameters"),
                                        w + ".parameters")));
            }
            out.add(
                    new SliceDef(
                            sources,
                            m.get("base_model") == null
                                    ? null
                                    : path(
                                            m.get("base_model"),
                                            folder,
                                            file,
                                            where + ".base_model"),
                            settings(
                                    (Map<String, Object>) m.get("parameters"),
                                    where + ".parameters")));
        }
        return out;
    }

    private static Path path(Object value, Path folder, Path file, String where) {
        String s = String.valueOf(value);
        Path p = folder.resolve(s).normalize();
        if (!Files.isDirectory(p)) {
            throw new IllegalArgumentException(
                    file
                            + ": "
                            + where
                            + " '"
                            + s
                            + "' is not a local folder ("
                            + p
                            + "); peft4j reads local checkpoints only, no Hugging Face Hub"
                            + " downloads");
        }
        return p;
    }

    private static Map<String, Setting> settings(Map<String, Object> raw, String where) {
        Map<String, Setting> out = new LinkedHashMap<>();
        if (raw != null) {
            raw.forEach((k, v) -> out.put(k, Setting.parse(v, where + "." + k)));
        }
        return out;
    }

    /** mergekit's {@code dtype_from_name} (common.py 228-243), with an optional {@code torch.} prefix. */
    static DataType dtype(Object value, String where) {
        if (value == null) {
            return null;
        }
        String s = String.valueOf(value);
        if (s.startsWith("torch.")) {
            s = s.substring("torch.".length());
        }
        switch (s) {
            case "bfloat16":
                return DataType.BFLOAT16;
            case "float16":
                return DataType.FLOAT16;
            case "float32":
                return DataType.FLOAT32;
            default:
                throw new IllegalArgumentException(
                        where + ": '" + value + "' is not bfloat16, float16 or float32");
        }
    }

    /** The config file. */
    public Path source() {
        return source;
    }

    /** {@code merge_method}. */
    public String method() {
        return method;
    }

    /** {@code base_model}, or null. */
    public Path baseModel() {
        return baseModel;
    }

    /** {@code models}, in the file's order (empty when the config gives {@code slices}). */
    public List<ModelEntry> models() {
        return models;
    }

    /** {@code slices}, or empty when the config gives {@code models}. */
    public List<SliceDef> slices() {
        return slices;
    }

    /** The global {@code parameters}. */
    public Map<String, Setting> parameters() {
        return parameters;
    }

    /** {@code dtype}: the precision inputs are rounded to, or null. */
    public DataType dtype() {
        return dtype;
    }

    /** {@code out_dtype}, else {@code dtype}, else null (the stored dtype). */
    public DataType outputDtype() {
        return outDtype != null ? outDtype : dtype;
    }
}
