package dev.peft4j.models.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import dev.peft4j.core.Finiteness;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.SafetensorsWriter;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.models.nn.HfConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loads HF-named tensors into a block tree (from any {@link TensorSource}: a safetensors
 * checkpoint, ONNX initializers) and exports a block tree as an HF {@code model.safetensors}.
 */
public final class HfWeights {

    private HfWeights() {}

    /**
     * What a load did.
     *
     * @param loaded the model names that received a checkpoint tensor
     * @param missing the model names left freshly initialized (allowed by the options)
     * @param ignored the checkpoint keys skipped (allowed by the options)
     */
    public record LoadResult(List<String> loaded, List<String> missing, List<String> ignored) {}

    /**
     * Copies every tensor of {@code source} into the parameter of {@code root} with the same HF
     * name, converting the dtype to the parameter's. Every tensor is checked first (a model
     * parameter of that name, the same shape, finite values: each tensor is read once for the check
     * and once to copy, one at a time), and nothing is loaded unless every check passes.
     *
     * @param root an initialized model
     * @param source the checkpoint
     * @param options key mapping and tolerated differences
     * @return what was loaded, left missing and ignored
     * @throws IOException if a tensor cannot be read
     * @throws IllegalArgumentException naming every unknown, missing, mis-shaped or non-finite
     *     tensor
     * @throws IllegalStateException if a parameter of {@code root} is not initialized
     */
    public static LoadResult load(Block root, TensorSource source, LoadOptions options)
            throws IOException {
        Map<String, Parameter> params = HfStateDict.of(root);
        Map<String, String> plan = new LinkedHashMap<>();
        Set<String> planned = new HashSet<>();
        List<String> ignored = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (String key : source.keys()) {
            String name = options.targetName(key);
            Parameter param = name == null ? null : params.get(name);
            if (param == null || planned.contains(name)) {
                if (options.isIgnoredUnexpected(key)) {
                    ignored.add(key);
                } else {
                    problems.add(
                            "unexpected tensor '"
                                    + key
                                    + "' (no model parameter "
                                    + (name == null ? "for it" : "'" + name + "'")
                                    + ")");
                }
                continue;
            }
            Shape expected = shapeOf(param, name);
            Shape actual = source.info(key).shape();
            if (!expected.equals(actual)) {
                problems.add(
                        "tensor '"
                                + key
                                + "' has shape "
                                + actual
                                + " but model parameter '"
                                + name
                                + "' has shape "
                                + expected);
                planned.add(name); // present, so not also reported missing
                continue;
            }
            if (!finite(source, key, param)) {
                problems.add("tensor '" + key + "' contains NaN or Inf");
                planned.add(name);
                continue;
            }
            plan.put(key, name);
            planned.add(name);
        }
        List<String> missing = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            if (planned.contains(e.getKey())) {
                continue;
            }
            if (options.isAllowedMissing(e.getKey())) {
                missing.add(e.getKey());
            } else {
                problems.add(
                        "missing tensor '"
                                + e.getKey()
                                + "' (shape "
                                + shapeOf(e.getValue(), e.getKey())
                                + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(
                    "Cannot load "
                            + describe(source)
                            + " into "
                            + root.getClass().getSimpleName()
                            + ": "
                            + problems.size()
                            + " problem(s):\n  "
                            + String.join("\n  ", problems));
        }
        for (Map.Entry<String, String> e : plan.entrySet()) {
            assign(params.get(e.getValue()), source, e.getKey());
        }
        return new LoadResult(new ArrayList<>(plan.values()), missing, ignored);
    }

    /**
     * Loads a Hugging Face checkpoint (a folder with {@code model.safetensors} or a sharded {@code
     * model.safetensors.index.json}, or one {@code .safetensors} file) into {@code root}.
     *
     * @param root an initialized model
     * @param checkpoint the folder or file
     * @param options key mapping and tolerated differences
     * @return what was loaded, left missing and ignored
     * @throws IOException if the checkpoint cannot be read
     */
    public static LoadResult load(Block root, Path checkpoint, LoadOptions options)
            throws IOException {
        try (CheckpointReader reader = CheckpointReader.open(checkpoint)) {
            return load(root, reader, options);
        }
    }

    /**
     * Writes every parameter of {@code root} under its HF name to a safetensors file (metadata
     * {@code {"format": "pt"}}, as {@code save_pretrained} writes), atomically.
     *
     * @param root the model, without injected adapters (merge and unload them first to export a
     *     fine-tuned model)
     * @param file the {@code model.safetensors} to write
     * @throws IOException if the file cannot be written
     * @throws IllegalStateException if a module still has adapters injected
     */
    public static void save(Block root, Path file) throws IOException {
        String adapted = HfStateDict.firstAdaptedModule(root);
        if (adapted != null) {
            throw new IllegalStateException(
                    "Module '"
                            + adapted
                            + "' has adapters injected: merge and unload them"
                            + " (PeftModel.mergeAndUnload()) before exporting the model");
        }
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : HfStateDict.of(root).entrySet()) {
            tensors.put(e.getKey(), e.getValue().getArray());
        }
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
    }

    /**
     * Writes a model folder in the HF {@code save_pretrained} layout: {@code config.json} and
     * {@code model.safetensors}, the folder published atomically (a previous folder of that name is
     * replaced whole, never mixed with the new files).
     *
     * @param root the model, without injected adapters
     * @param config its config
     * @param dir the folder, created if needed
     * @throws IOException if a file cannot be written
     */
    public static void savePretrained(Block root, HfConfig config, Path dir) throws IOException {
        AtomicFiles.publishDirectory(
                dir,
                staging -> {
                    save(root, staging.resolve(CheckpointReader.SINGLE_FILE));
                    Files.writeString(staging.resolve("config.json"), config.toJson());
                });
    }

    private static String describe(TensorSource source) {
        if (source instanceof SafetensorsReader reader) {
            return reader.file().toString();
        }
        if (source instanceof CheckpointReader reader) {
            List<Path> shards = reader.shards();
            return shards.size() == 1
                    ? shards.get(0).toString()
                    : shards.size() + " shards in " + shards.get(0).toAbsolutePath().getParent();
        }
        return source.toString();
    }

    private static Shape shapeOf(Parameter param, String name) {
        if (!param.isInitialized()) {
            throw new IllegalStateException(
                    "Model parameter '"
                            + name
                            + "' is not initialized: call block.initialize(...)"
                            + " before loading weights");
        }
        return param.getArray().getShape();
    }

    /** Whether a checkpoint tensor is finite, read into a scratch scope freed at once. */
    private static boolean finite(TensorSource source, String key, Parameter param)
            throws IOException {
        NDArray like = param.getArray();
        try (NDManager scratch = like.getManager().newSubManager(like.getDevice())) {
            return Finiteness.isFinite(source.load(key, scratch, like.getDataType()));
        }
    }

    private static void assign(Parameter param, TensorSource source, String key)
            throws IOException {
        NDArray target = param.getArray();
        boolean grad = target.hasGradient();
        try (NDManager scratch = target.getManager().newSubManager(target.getDevice())) {
            NDArray loaded = source.load(key, scratch, target.getDataType());
            if (!loaded.getShape().equals(target.getShape())) {
                throw new IllegalArgumentException(
                        "tensor '"
                                + key
                                + "' loaded with shape "
                                + loaded.getShape()
                                + ", expected "
                                + target.getShape());
            }
            // duplicate() is a native clone that owns its memory: the loaded array may view a Java
            // buffer (a memory map, a direct buffer) that must not live on inside the parameter
            NDArray owned = loaded.toDevice(target.getDevice(), false).duplicate();
            target.intern(owned);
        }
        if (grad) {
            target.setRequiresGradient(true);
        }
    }
}
