package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.core.tree.LookupTable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An adapter folder (PEFT layout) seen as a fine-tuned model: the task vector of an adapted layer
 * is the adapter's weight change. LoRA gives it in factored form {@code s B A} read straight from
 * the two factors; any other registered method is built on a throw-away layer holding the base
 * weight and asked for {@link Adapter#deltaWeight}, which is exact also for methods whose change
 * depends on the base weight (Bat). Full tensors the adapter saves ({@code modules_to_save}) are
 * task vectors against the base tensor of the same name; those the base lacks (a task-specific
 * classifier head) are left out and listed in {@link #ignoredTensors()}.
 *
 * <p>Module paths map to base tensors as {@code <path>.weight}, or the unique base tensor that
 * differs from it by a leading prefix ({@link TensorNames}: an adapter trained on a classifier
 * names {@code bert.encoder...} what the encoder checkpoint names {@code encoder...}). Convolution weights
 * ({@code [out, in, kh, kw]}) are rebuilt with one group.
 */
public final class AdapterCandidate implements Candidate {

    private final String name;
    private final Path dir;
    private final AdapterConfig config;
    private final SafetensorsReader reader;

    /** Base tensor name to adapted module path. */
    private final Map<String, String> moduleOfKey = new LinkedHashMap<>();

    /** Module path to (tensor name relative to the module, full key in the file). */
    private final Map<String, Map<String, String>> moduleTensors = new LinkedHashMap<>();

    /** Base bias tensor name to the module whose LoRA has a {@code lora_B.bias} ({@code lora_bias}). */
    private final Map<String, String> biasOfKey = new LinkedHashMap<>();

    /** Base tensor name to the full tensor saved for it. */
    private final Map<String, String> fullTensors = new LinkedHashMap<>();

    private final List<String> ignored = new ArrayList<>();

    private AdapterCandidate(
            String name, Path dir, AdapterConfig config, SafetensorsReader reader) {
        this.name = name;
        this.dir = dir;
        this.config = config;
        this.reader = reader;
    }

    /** Opens an adapter folder and maps its modules onto the base's tensor names. */
    public static AdapterCandidate open(Path dir, String name, TensorSource base)
            throws IOException {
        AdapterConfig config = AdapterCheckpoint.readConfig(dir);
        SafetensorsReader reader =
                SafetensorsReader.open(dir.resolve(AdapterCheckpoint.WEIGHTS_FILE));
        AdapterCandidate c = new AdapterCandidate(name, dir, config, reader);
        try {
            c.index(AdapterMethods.forType(config.peftType(), dir.toString()).tensorPrefix(), base);
        } catch (RuntimeException e) {
            reader.close();
            throw e;
        }
        return c;
    }

    private void index(String tensorPrefix, TensorSource base) {
        for (String key : reader.keys()) {
            if (!key.startsWith(AdapterCheckpoint.PREFIX)) {
                throw new IllegalArgumentException(
                        "candidate "
                                + describe()
                                + ": tensor '"
                                + key
                                + "' does not start with '"
                                + AdapterCheckpoint.PREFIX
                                + "' (not a PEFT adapter file)");
            }
            String rel = key.substring(AdapterCheckpoint.PREFIX.length());
            AdapterCheckpoint.ModuleTensor split = AdapterCheckpoint.splitKey(rel, tensorPrefix);
            if (split == null) {
                String plain = rel.replace(".modules_to_save.", ".");
                String baseKey = TensorNames.match(plain, base);
                if (baseKey == null) {
                    ignored.add(plain);
                } else {
                    fullTensors.put(baseKey, key);
                }
                continue;
            }
            moduleTensors
                    .computeIfAbsent(split.module(), m -> new LinkedHashMap<>())
                    .put(split.tensor(), key);
        }
        for (String module : moduleTensors.keySet()) {
            String baseKey = TensorNames.match(module + ".weight", base);
            if (baseKey == null) {
                String hint = "";
                try {
                    base.info(module + ".weight");
                } catch (IllegalArgumentException e) {
                    hint = ": " + e.getMessage();
                }
                throw new IllegalArgumentException(
                        "candidate "
                                + describe()
                                + ": adapted module '"
                                + module
                                + "' has no weight tensor in the base model"
                                + hint);
            }
            moduleOfKey.put(baseKey, module);
            if (config instanceof LoraConfig lora && lora.loraBias()) {
                String biasKey = TensorNames.match(module + ".bias", base);
                if (biasKey == null) {
                    throw new IllegalArgumentException(
                            "candidate "
                                    + describe()
                                    + ": module '"
                                    + module
                                    + "' has lora_bias but the base model has no bias tensor for"
                                    + " it (PEFT cannot merge it either)");
                }
                biasOfKey.put(biasKey, module);
            }
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String describe() {
        return "'" + name + "' (" + dir + ")";
    }

    /** The adapter's config. */
    public AdapterConfig config() {
        return config;
    }

    /** The adapted module of a base tensor, or null. */
    public String moduleOf(String baseKey) {
        return moduleOfKey.get(baseKey);
    }

    @Override
    public void validate(TensorSource base) {
        moduleOfKey.forEach(
                (key, module) -> {
                    Shape w = base.info(key).shape();
                    if (w.dimension() != 2 && w.dimension() != 4) {
                        throw new IllegalArgumentException(
                                "candidate "
                                        + describe()
                                        + ": adapted module '"
                                        + module
                                        + "' maps to base tensor '"
                                        + key
                                        + "' of shape "
                                        + TensorChecks.shape(w)
                                        + ", not a Linear or Conv2d weight");
                    }
                    if (config instanceof LoraConfig) {
                        checkLoraShapes(module, key, w);
                    }
                });
        fullTensors.forEach(
                (key, fileKey) ->
                        TensorChecks.requireSameShape(
                                this,
                                fileKey,
                                base.info(key).shape(),
                                reader.info(fileKey).shape()));
    }

    private void checkLoraShapes(String module, String key, Shape w) {
        if (isEmbedding(module)) {
            Shape ea = reader.info(loraKey(module, "lora_embedding_A")).shape();
            Shape eb = reader.info(loraKey(module, "lora_embedding_B")).shape();
            config.checkSavedShapes(
                    module,
                    Map.of("lora_embedding_A", ea, "lora_embedding_B", eb),
                    "candidate " + describe());
            if (w.dimension() != 2 || ea.get(1) != w.get(0) || eb.get(0) != w.get(1)) {
                throw new IllegalArgumentException(
                        "candidate "
                                + describe()
                                + ": shape mismatch for embedding '"
                                + module
                                + "': lora_embedding_A "
                                + TensorChecks.shape(ea)
                                + " and lora_embedding_B "
                                + TensorChecks.shape(eb)
                                + " do not fit base tensor '"
                                + key
                                + "' "
                                + TensorChecks.shape(w)
                                + " [num_embeddings, dim]");
            }
            return;
        }
        Shape a = reader.info(loraKey(module, "lora_A.weight")).shape();
        Shape b = reader.info(loraKey(module, "lora_B.weight")).shape();
        config.checkSavedShapes(
                module, Map.of("lora_A.weight", a, "lora_B.weight", b), "candidate " + describe());
        // Linear: A [r, in], B [out, r]; Conv2d: A [r, in, kh, kw], B [out, r, 1, 1]
        Shape wantA = new Shape(a.get(0)).addAll(w.slice(1));
        Shape wantB =
                w.dimension() == 2
                        ? new Shape(w.get(0), a.get(0))
                        : new Shape(w.get(0), a.get(0), 1, 1);
        if (!a.equals(wantA) || !b.equals(wantB)) {
            throw new IllegalArgumentException(
                    "candidate "
                            + describe()
                            + ": shape mismatch for module '"
                            + module
                            + "': lora_A "
                            + TensorChecks.shape(a)
                            + " and lora_B "
                            + TensorChecks.shape(b)
                            + " do not fit base tensor '"
                            + key
                            + "' "
                            + TensorChecks.shape(w));
        }
    }

    private String loraKey(String module, String tensor) {
        String key = moduleTensors.get(module).get(tensor);
        if (key == null) {
            throw new IllegalArgumentException(
                    "candidate "
                            + describe()
                            + ": module '"
                            + module
                            + "' has no "
                            + tensor
                            + " (found "
                            + moduleTensors.get(module).keySet()
                            + ")");
        }
        return key;
    }

    @Override
    public Delta taskVector(String key, NDArray theta0, NDManager manager) throws IOException {
        String module = moduleOfKey.get(key);
        if (module != null) {
            // DoRA's change depends on the base weight (its row norms) and a Conv2d LoRA's is a
            // product over flattened kernels: both built by the adapter, like any method
            boolean factored =
                    config instanceof LoraConfig lora
                            && !lora.useDora()
                            && theta0.getShape().dimension() == 2;
            return factored ? lora(module, theta0, manager) : generic(module, theta0, manager);
        }
        String biasModule = biasOfKey.get(key);
        if (biasModule != null) {
            NDArray b = load(loraKey(biasModule, "lora_B.bias"), theta0, manager);
            TensorChecks.requireSameShape(this, key, theta0.getShape(), b.getShape());
            return Delta.dense(
                    b.mul(((LoraConfig) config).scalingFor(biasModule))); // s b, as PEFT's merge
        }
        String full = fullTensors.get(key);
        if (full != null) {
            NDArray tuned = load(full, theta0, manager);
            TensorChecks.requireSameShape(this, key, theta0.getShape(), tuned.getShape());
            return Delta.dense(tuned.subi(theta0));
        }
        return Delta.zero();
    }

    /** Whether the module's LoRA is on a lookup table ({@code lora_embedding_A}, {@code lora_embedding_B}). */
    private boolean isEmbedding(String module) {
        return moduleTensors.get(module).containsKey("lora_embedding_A");
    }

    /**
     * {@code s B A} from the stored factors, kept factored. When the initialization changed the
     * base, the folder is loaded as {@code PeftModel} loads it onto a layer holding {@code theta0}:
     * a PiSSA or OLoRA folder (meant for the original base, its decomposition redone at load) gives
     * its change against {@code theta0}, the converted plain LoRA {@code s (B A - B0 A0)} of rank
     * 2r; a LoRA-GA folder (meant for the residual base) is checked against its fingerprint.
     */
    private Delta lora(String module, NDArray theta0, NDManager manager) throws IOException {
        LoraConfig lora = (LoraConfig) config;
        if (isEmbedding(module)) {
            // s (B A)^T = s A^T B^T, factored
            NDArray ea = load(loraKey(module, "lora_embedding_A"), theta0, manager);
            NDArray eb = load(loraKey(module, "lora_embedding_B"), theta0, manager);
            return Delta.lowRank(ea.transpose(), eb.transpose(), lora.scalingFor(module));
        }
        NDArray a = load(loraKey(module, "lora_A.weight"), theta0, manager);
        NDArray b = load(loraKey(module, "lora_B.weight"), theta0, manager);
        if (lora.initChangesTheBase()) {
            String source = source();
            LoraAdapter adapter = (LoraAdapter) loadingAdapter(module, theta0, manager);
            try {
                Map<String, String> metadata =
                        AdapterCheckpoint.moduleMetadata(reader.metadata(), module);
                adapter.checkBeforeLoad(metadata, source);
                adapter.loadStateDict(Map.of("lora_A.weight", a, "lora_B.weight", b), source);
                adapter.verifyLoaded(metadata, source);
                if (adapter.meantForOriginalBase()) {
                    Map<String, NDArray> plain = adapter.stateDictForOriginalBase(manager);
                    LoraConfig converted = (LoraConfig) config.forOriginalBase();
                    return Delta.lowRank(
                            plain.get("lora_B.weight"),
                            plain.get("lora_A.weight"),
                            converted.scalingFor(module));
                }
            } finally {
                adapter.release();
            }
        }
        return Delta.lowRank(b, a, lora.scalingFor(module));
    }

    /** The registered method's own {@code deltaWeight} on a layer holding the base weight. */
    private Delta generic(String module, NDArray theta0, NDManager manager) throws IOException {
        Adapter adapter = loadingAdapter(module, theta0, manager);
        Map<String, NDArray> values = new HashMap<>();
        for (Map.Entry<String, String> e : moduleTensors.get(module).entrySet()) {
            values.put(e.getKey(), load(e.getValue(), theta0, manager));
        }
        adapter.loadStateDict(values, source());
        NDArray dw = adapter.deltaWeight(manager).toType(DataType.FLOAT32, false);
        TensorChecks.requireFinite(this, module + " (delta weight)", dw);
        return Delta.dense(dw);
    }

    /**
     * The config's adapter, made for loading, on a throw-away layer holding a copy of {@code
     * theta0} (the model's own layer is never touched).
     */
    private Adapter loadingAdapter(String module, NDArray theta0, NDManager manager) {
        Block layer = layerWithWeight(theta0.duplicate(), isEmbedding(module));
        return config.createAdapter(
                new AdapterContext(
                        module, PeftModel.DEFAULT, BaseLayer.of(layer, module), manager, true));
    }

    /** The adapter file, for messages. */
    private String source() {
        return dir.resolve(AdapterCheckpoint.WEIGHTS_FILE).toString();
    }

    /** A Linear, one-group Conv2d or lookup table block whose weight is {@code weight}. */
    private static Block layerWithWeight(NDArray weight, boolean table) {
        Shape s = weight.getShape();
        Block block =
                table
                        ? new LookupTable(s.get(0), s.get(1))
                        : s.dimension() == 2
                                ? Linear.builder().setUnits(s.get(0)).optBias(false).build()
                                : Conv2d.builder()
                                        .setKernelShape(new Shape(s.get(2), s.get(3)))
                                        .setFilters((int) s.get(0))
                                        .optBias(false)
                                        .build();
        block.getParameters().get("weight").setArray(weight);
        return block;
    }

    private NDArray load(String fileKey, NDArray like, NDManager manager) throws IOException {
        return TensorChecks.loadFinite(this, reader, fileKey, like, manager);
    }

    @Override
    public List<String> ignoredTensors() {
        return List.copyOf(ignored);
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }
}
