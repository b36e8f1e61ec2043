package dev.peft4j.adapters.lora;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.config.PatternMap;
import dev.peft4j.core.tree.BaseLayer;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * LoRA (Hu et al. 2021): {@code y = W x + b + s * B (A dropout(x))}, {@code A [r, in]},
 * {@code B [out, r]}, {@code s = alpha / r} or {@code alpha / sqrt(r)} with rsLoRA
 * (Kalajdzievski 2023). Defaults are PEFT's: r 8, alpha 8, dropout 0, Kaiming-uniform A and zero B.
 */
public final class LoraConfig extends AdapterConfig {

    /** PEFT's {@code peft_type}. */
    public static final String PEFT_TYPE = "LORA";

    /**
     * Adam 5e-4: the rate the examples train LoRA r 8 on MiniLM with (spam at 98-100% in one
     * epoch, docs/benchmarks.md); PiSSA, LoRA-GA and EVA, which change only the initialization,
     * share it. At 1e-3 one spam run diverged to NaN.
     */
    public static final float RECOMMENDED_LEARNING_RATE = 5e-4f;

    /** PEFT's sub-objects holding the options of data-driven initializers, kept as JSON here. */
    public static final List<String> INIT_CONFIG_KEYS = List.of("eva_config", "lora_ga_config");

    private final int r;
    private final double alpha;
    private final double dropout;
    private final boolean useRslora;
    private final boolean loraBias;
    private final boolean useDora;
    private final String initLoraWeights;
    private final PatternMap rankPattern;
    private final PatternMap alphaPattern;
    private final long initSeed;
    private final LinkedHashMap<String, JsonObject> initConfigs;

    private LoraConfig(Builder b) {
        super(b);
        this.r = b.r;
        this.alpha = b.alpha;
        this.dropout = b.dropout;
        this.useRslora = b.useRslora;
        this.loraBias = b.loraBias;
        this.useDora = b.useDora;
        this.initLoraWeights = b.initLoraWeights;
        this.rankPattern = b.rankPattern;
        this.alphaPattern = b.alphaPattern;
        this.initSeed = b.initSeed;
        this.initConfigs = new LinkedHashMap<>();
        b.initConfigs.forEach((k, v) -> initConfigs.put(k, v.deepCopy()));
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this config's values, to derive a variant. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.readCommon(new ConfigJson(toJson(), "LoraConfig"));
        b.r = r;
        b.alpha = alpha;
        b.dropout = dropout;
        b.useRslora = useRslora;
        b.loraBias = loraBias;
        b.useDora = useDora;
        b.initLoraWeights = initLoraWeights;
        b.rankPattern = rankPattern;
        b.alphaPattern = alphaPattern;
        b.initSeed = initSeed;
        initConfigs.forEach(b::optInitConfig);
        return b;
    }

    @Override
    public String peftType() {
        return PEFT_TYPE;
    }

    @Override
    public float recommendedLearningRate() {
        return RECOMMENDED_LEARNING_RATE;
    }

    /** The default rank. */
    public int r() {
        return r;
    }

    /** The default alpha. */
    public double alpha() {
        return alpha;
    }

    /** Dropout on the adapter's input during training. */
    public double dropout() {
        return dropout;
    }

    /** Whether the scaling is {@code alpha / sqrt(r)}. */
    public boolean useRslora() {
        return useRslora;
    }

    /**
     * Whether {@code lora_B} has a bias (PEFT's {@code lora_bias}): the change is {@code s (B A x
     * + b)}, and merging adds {@code s b} to the base layer's bias.
     */
    public boolean loraBias() {
        return loraBias;
    }

    /**
     * Whether the layers are DoRA (Liu et al. 2024, PEFT's {@code use_dora}): a trained magnitude
     * per output row rescales {@code W + s B A} by {@code m / ||W + s B A||} (the norm detached).
     */
    public boolean useDora() {
        return useDora;
    }

    /** {@code "true"}, {@code "false"}, {@code "gaussian"} or an initializer name ({@code "pissa"}). */
    public String initLoraWeights() {
        return initLoraWeights;
    }

    /**
     * Whether {@code init_lora_weights} names an initialization that changes the base weight
     * (PiSSA, OLoRA, LoRA-GA), so that a folder's {@code s B A} alone is not its change against the
     * original base.
     */
    public boolean initChangesTheBase() {
        return LoraInitializers.changesTheBase(initLoraWeights);
    }

    /** Per-module rank overrides. */
    public PatternMap rankPattern() {
        return rankPattern;
    }

    /** Per-module alpha overrides. */
    public PatternMap alphaPattern() {
        return alphaPattern;
    }

    /** The seed of the random initialization (combined with each module path). */
    public long initSeed() {
        return initSeed;
    }

    /**
     * An initializer's options as PEFT saves them ({@code "eva_config"}, {@code "lora_ga_config"}; a
     * copy), or null when not set.
     */
    public JsonObject initConfig(String key) {
        JsonObject o = initConfigs.get(key);
        return o == null ? null : o.deepCopy();
    }

    /** The rank of the module at {@code path}. */
    public int rankFor(String path) {
        return (int) rankPattern.resolve(path, r);
    }

    /** The alpha of the module at {@code path}. */
    public double alphaFor(String path) {
        return alphaPattern.resolve(path, alpha);
    }

    /** The scaling {@code s} of the module at {@code path}. */
    public double scalingFor(String path) {
        int rank = rankFor(path);
        return useRslora ? alphaFor(path) / Math.sqrt(rank) : alphaFor(path) / rank;
    }

    /**
     * {@code lora_A.weight} must be {@code [r, in]} and {@code lora_B.weight} {@code [out, r]}
     * with r this module's rank ({@code r}, or its {@code rank_pattern} entry): a folder whose
     * config says r 8 over rank-4 tensors would otherwise be scaled by alpha / 8 instead of alpha
     * / 4 (PEFT refuses it with a size mismatch).
     */
    @Override
    public void checkSavedShapes(String module, Map<String, Shape> shapes, String source) {
        int rank = rankFor(module);
        Shape ea = shapes.get("lora_embedding_A");
        Shape eb = shapes.get("lora_embedding_B");
        if ((ea != null && (ea.dimension() != 2 || ea.get(0) != rank))
                || (eb != null && (eb.dimension() != 2 || eb.get(1) != rank))) {
            throw new IllegalArgumentException(
                    source
                            + ": module '"
                            + module
                            + "' has lora_embedding_A "
                            + (ea == null ? "(none)" : ea)
                            + " and lora_embedding_B "
                            + (eb == null ? "(none)" : eb)
                            + ", but the config gives it rank "
                            + rank
                            + ": expected lora_embedding_A ["
                            + rank
                            + ", num_embeddings] and lora_embedding_B [dim, "
                            + rank
                            + "]");
        }
        Shape a = shapes.get("lora_A.weight");
        Shape b = shapes.get("lora_B.weight");
        // Conv2d LoRA: lora_A [r, in, kh, kw], lora_B [out, r, 1, 1]
        if ((a != null && (!matrixOrKernel(a) || a.get(0) != rank))
                || (b != null && (!matrixOrKernel(b) || b.get(1) != rank))) {
            throw new IllegalArgumentException(
                    source
                            + ": module '"
                            + module
                            + "' has lora_A "
                            + (a == null ? "(none)" : a)
                            + " and lora_B "
                            + (b == null ? "(none)" : b)
                            + ", but the config gives it rank "
                            + rank
                            + (rankPattern.resolve(module, -1) >= 0 ? " (rank_pattern)" : " (r)")
                            + ": expected lora_A ["
                            + rank
                            + ", in] and lora_B [out, "
                            + rank
                            + "]");
        }
    }

    private static boolean matrixOrKernel(Shape s) {
        return s.dimension() == 2 || s.dimension() == 4;
    }

    /** Converted to plain LoRA when the initializer changed the base weights (see {@link LoraInitializer}). */
    @Override
    public AdapterConfig forOriginalBase() {
        LoraInitializer initializer = LoraInitializers.find(initLoraWeights);
        return initializer == null ? this : initializer.forOriginalBase(this);
    }

    @Override
    public Adapter createAdapter(AdapterContext context) {
        return context.base().kind() == BaseLayer.Kind.EMBEDDING
                ? new LoraEmbeddingAdapter(context, this)
                : new LoraAdapter(context, this);
    }

    /**
     * Linear layers, lookup tables and 2-D convolutions (PEFT's {@code lora.Linear}, {@code
     * lora.Embedding} and {@code lora.Conv2d}).
     */
    @Override
    public Set<BaseLayer.Kind> supportedLayers() {
        return EnumSet.of(BaseLayer.Kind.LINEAR, BaseLayer.Kind.EMBEDDING, BaseLayer.Kind.CONV2D);
    }

    /**
     * PEFT's limits beyond the layer kind: on lookup tables and convolutions only its built-in
     * initializations ({@code lora.Embedding} and {@code lora.Conv2d} have no PiSSA, OLoRA, EVA,
     * orthogonal; PEFT's conv layers fall back to the default init for LoRA-GA, refused here); no
     * {@code lora_bias} on tables (PEFT refuses it); convolutions without groups (PEFT cannot
     * merge them) and without dilation on kernels larger than 1x1 (PEFT's {@code lora_A} has no
     * dilation, so its output would not line up with the base's).
     */
    @Override
    public String cannotAdapt(BaseLayer base, String path) {
        String refusal = super.cannotAdapt(base, path);
        if (refusal != null || base.kind() == BaseLayer.Kind.LINEAR) {
            return refusal;
        }
        String what = base.kind() == BaseLayer.Kind.EMBEDDING ? "the embedding" : "the Conv2d";
        if (!LoraInitializers.builtIn(initLoraWeights)) {
            return "LoRA on "
                    + what
                    + " '"
                    + path
                    + "' supports init_lora_weights true, false and 'gaussian' (as PEFT), got '"
                    + initLoraWeights
                    + "'";
        }
        if (base.kind() == BaseLayer.Kind.EMBEDDING) {
            return loraBias
                    ? "LoRA on the embedding '" + path + "' cannot have lora_bias (as in PEFT)"
                    : null;
        }
        Conv2d conv = ((BaseLayer.ConvLayer) base).conv();
        if (conv.getGroups() != 1) {
            return "LoRA on the Conv2d '"
                    + path
                    + "' needs groups 1, it has "
                    + conv.getGroups()
                    + " (PEFT cannot merge LoRA into grouped convolutions)";
        }
        Shape kernel = conv.getKernelShape();
        Shape dilation = conv.getDilation();
        if (kernel.size() > 1 && dilation.size() != 1) {
            return "LoRA on the Conv2d '"
                    + path
                    + "' needs dilation (1, 1) for its "
                    + kernel
                    + " kernel, it has "
                    + dilation
                    + " (PEFT's lora_A convolution has no dilation)";
        }
        return null;
    }

    @Override
    protected void writeFields(JsonObject o) {
        o.addProperty("r", r);
        o.addProperty("lora_alpha", ConfigJson.jsonNumber(alpha));
        o.addProperty("lora_dropout", dropout);
        o.addProperty("use_rslora", useRslora);
        o.addProperty("lora_bias", loraBias);
        if ("true".equals(initLoraWeights) || "false".equals(initLoraWeights)) {
            o.addProperty("init_lora_weights", Boolean.parseBoolean(initLoraWeights));
        } else {
            o.addProperty("init_lora_weights", initLoraWeights);
        }
        o.add("rank_pattern", rankPattern.toJson());
        o.add("alpha_pattern", alphaPattern.toJson());
        o.addProperty("bias", "none");
        o.addProperty("fan_in_fan_out", false);
        o.addProperty("use_dora", useDora);
        initConfigs.forEach((k, v) -> o.add(k, v.deepCopy()));
    }

    /**
     * PEFT keys that change what the adapter computes or which tensors it holds, refused unless at
     * their default (absent, null, false, empty): PEFT 0.2x {@code tuners/lora/config.py}.
     */
    private static final List<String> UNSUPPORTED_VARIANT_KEYS =
            List.of(
                    "layer_replication",
                    "loftq_config",
                    "megatron_config",
                    "trainable_token_indices",
                    "use_qalora",
                    "alora_invocation_tokens",
                    "target_parameters",
                    "use_bdlora",
                    "kasa_config",
                    "arrow_config",
                    "velora_config",
                    "monteclora_config");

    /**
     * PEFT's {@code init_lora_weights} values that initialize (and, loaded, re-initialize the base)
     * in ways not implemented here; loading them as plain LoRA would silently compute something else.
     */
    private static final Set<String> UNSUPPORTED_INITS = Set.of("corda", "loftq", "mica");

    /** Parses PEFT's LoRA config; options we do not implement are errors rather than silently ignored. */
    public static LoraConfig fromJson(ConfigJson json) {
        Builder b = builder().readCommon(json);
        b.r = json.getInt("r", 8);
        b.alpha = json.getDouble("lora_alpha", 8);
        b.dropout = json.getDouble("lora_dropout", 0);
        b.useRslora = json.getBoolean("use_rslora", false);
        b.loraBias = json.getBoolean("lora_bias", false);
        b.useDora = json.getBoolean("use_dora", false);
        JsonElement init = json.get("init_lora_weights");
        b.initLoraWeights = init == null ? "true" : init.getAsString();
        b.rankPattern =
                PatternMap.fromJson(json.get("rank_pattern"), json.source() + ": rank_pattern");
        b.alphaPattern =
                PatternMap.fromJson(json.get("alpha_pattern"), json.source() + ": alpha_pattern");
        for (String key : INIT_CONFIG_KEYS) {
            JsonElement e = json.get(key);
            if (e != null && !e.isJsonObject()) {
                throw json.error("'" + key + "' must be an object or null, got " + e);
            }
            b.optInitConfig(key, e == null ? null : e.getAsJsonObject());
        }
        requireValue(json, "bias", "none");
        requireValue(json, "fan_in_fan_out", "false");
        for (String unsupported : UNSUPPORTED_VARIANT_KEYS) {
            JsonElement e = json.get(unsupported);
            if (e != null
                    && !e.isJsonNull()
                    && !(e.isJsonPrimitive()
                            && e.getAsJsonPrimitive().isBoolean()
                            && !e.getAsBoolean())
                    && !(e.isJsonObject() && e.getAsJsonObject().size() == 0)
                    && !(e.isJsonArray() && e.getAsJsonArray().size() == 0)) {
                throw json.error(
                        "'"
                                + unsupported
                                + "' changes the forward and is not supported by peft4j (got "
                                + e
                                + ")");
            }
        }
        if (UNSUPPORTED_INITS.contains(b.initLoraWeights)) {
            throw json.error(
                    "init_lora_weights '"
                            + b.initLoraWeights
                            + "' is not supported by peft4j: loading it as plain LoRA would give"
                            + " other weights than PEFT (implemented: true, false, gaussian, pissa,"
                            + " pissa_niter_N, olora, orthogonal, lora_ga, eva)");
        }
        return b.build();
    }

    private static void requireValue(ConfigJson json, String key, String expected) {
        JsonElement e = json.get(key);
        if (e != null && !expected.equals(e.getAsString())) {
            throw json.error(
                    "'" + key + "' = " + e + " is not supported by peft4j (only " + expected + ")");
        }
    }

    /** Builds a {@link LoraConfig}. */
    public static final class Builder extends AdapterConfig.Builder<Builder> {
        private int r = 8;
        private double alpha = 8;
        private double dropout;
        private boolean useRslora;
        private boolean loraBias;
        private boolean useDora;
        private String initLoraWeights = "true";
        private PatternMap rankPattern = PatternMap.empty();
        private PatternMap alphaPattern = PatternMap.empty();
        private long initSeed = 0;
        private final LinkedHashMap<String, JsonObject> initConfigs = new LinkedHashMap<>();

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /** The rank r (default 8). */
        public Builder optRank(int r) {
            this.r = r;
            return this;
        }

        /** The alpha of the scaling {@code alpha / r} (default 8, as PEFT). */
        public Builder optAlpha(double alpha) {
            this.alpha = alpha;
            return this;
        }

        /** Dropout probability on the adapter input while training (default 0). */
        public Builder optDropout(double dropout) {
            this.dropout = dropout;
            return this;
        }

        /** Uses {@code alpha / sqrt(r)} scaling (rsLoRA), stable across ranks. */
        public Builder optUseRslora(boolean useRslora) {
            this.useRslora = useRslora;
            return this;
        }

        /** Gives {@code lora_B} a bias, PEFT's {@code lora_bias} (default false). */
        public Builder optLoraBias(boolean loraBias) {
            this.loraBias = loraBias;
            return this;
        }

        /** Makes the layers DoRA, PEFT's {@code use_dora} (default false). */
        public Builder optUseDora(boolean useDora) {
            this.useDora = useDora;
            return this;
        }

        /** {@code "true"} (Kaiming-uniform A, zero B), {@code "gaussian"}, {@code "false"} or an initializer name. */
        public Builder optInitLoraWeights(String init) {
            this.initLoraWeights = init;
            return this;
        }

        /** Per-module ranks: regex of the module path's end to rank. */
        public Builder optRankPattern(Map<String, Integer> pattern) {
            this.rankPattern = new PatternMap(pattern);
            return this;
        }

        /** Per-module alphas: regex of the module path's end to alpha. */
        public Builder optAlphaPattern(Map<String, ? extends Number> pattern) {
            this.alphaPattern = new PatternMap(pattern);
            return this;
        }

        /** Seed of the random initialization (default 0); each module mixes in its path. */
        public Builder optInitSeed(long seed) {
            this.initSeed = seed;
            return this;
        }

        /**
         * Sets (or with null removes) an initializer's options under PEFT's key, one of
         * {@link #INIT_CONFIG_KEYS}; the initializer validates them when it runs.
         */
        public Builder optInitConfig(String key, JsonObject options) {
            if (!INIT_CONFIG_KEYS.contains(key)) {
                throw new IllegalArgumentException(
                        "Unknown initializer config '" + key + "'; known: " + INIT_CONFIG_KEYS);
            }
            if (options == null) {
                initConfigs.remove(key);
            } else {
                initConfigs.put(key, options.deepCopy());
            }
            return this;
        }

        @Override
        public LoraConfig build() {
            validate();
            if (r <= 0) {
                throw new IllegalArgumentException("LoRA rank r must be positive, got " + r);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException(
                        "lora_dropout must be in [0, 1), got " + dropout);
            }
            if (!Double.isFinite(alpha)) {
                throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
            }
            rankPattern
                    .values()
                    .forEach(
                            (k, v) -> {
                                if (v <= 0 || v != Math.rint(v)) {
                                    throw new IllegalArgumentException(
                                            "rank_pattern['"
                                                    + k
                                                    + "'] must be a positive integer, got "
                                                    + v);
                                }
                            });
            if (initLoraWeights == null || initLoraWeights.isBlank()) {
                throw new IllegalArgumentException(
                        "init_lora_weights must be true, false, 'gaussian' or an initializer name");
            }
            boolean changesTheBase = LoraInitializers.changesTheBase(initLoraWeights);
            if (useDora && (loraBias || changesTheBase)) {
                throw new IllegalArgumentException(
                        "use_dora with "
                                + (loraBias
                                        ? "lora_bias"
                                        : "init_lora_weights '" + initLoraWeights + "'")
                                + " is not supported by peft4j (DoRA's magnitude is taken from the"
                                + " base weight before the initializer changes it)");
            }
            if (loraBias && changesTheBase) {
                throw new IllegalArgumentException(
                        "lora_bias with init_lora_weights '"
                                + initLoraWeights
                                + "' is not supported by peft4j: the conversion to plain LoRA for"
                                + " the original base has no bias term (PEFT leaves the bias at"
                                + " nn.Linear's random init there, changing the output at step 0)");
            }
            return new LoraConfig(this);
        }
    }
}
