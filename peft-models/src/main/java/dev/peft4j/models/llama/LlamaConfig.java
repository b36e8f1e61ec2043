package dev.peft4j.models.llama;

import com.google.gson.annotations.SerializedName;
import dev.peft4j.models.nn.Activations;
import dev.peft4j.models.nn.HfConfig;
import java.io.Reader;
import java.nio.file.Path;
import java.util.Map;

/**
 * An HF {@code LlamaConfig} ({@code model_type} "llama"), with HF's defaults for keys a {@code
 * config.json} leaves out. RoPE scaling other than the default is rejected.
 */
public final class LlamaConfig extends HfConfig {

    @SerializedName("model_type")
    private String modelType = "llama";

    @SerializedName("vocab_size")
    private int vocabSize = 32000;

    @SerializedName("hidden_size")
    private int hiddenSize = 4096;

    @SerializedName("intermediate_size")
    private int intermediateSize = 11008;

    @SerializedName("num_hidden_layers")
    private int numHiddenLayers = 32;

    @SerializedName("num_attention_heads")
    private int numAttentionHeads = 32;

    @SerializedName("num_key_value_heads")
    private Integer numKeyValueHeads;

    @SerializedName("head_dim")
    private Integer headDim;

    @SerializedName("hidden_act")
    private String hiddenAct = "silu";

    @SerializedName("max_position_embeddings")
    private int maxPositionEmbeddings = 2048;

    @SerializedName("initializer_range")
    private float initializerRange = 0.02f;

    @SerializedName("rms_norm_eps")
    private float rmsNormEps = 1e-6f;

    @SerializedName("tie_word_embeddings")
    private boolean tieWordEmbeddings;

    @SerializedName("rope_theta")
    private double ropeTheta = 10000.0;

    @SerializedName("rope_scaling")
    private Map<String, Object> ropeScaling;

    @SerializedName("attention_bias")
    private boolean attentionBias;

    @SerializedName("attention_dropout")
    private float attentionDropout;

    @SerializedName("mlp_bias")
    private boolean mlpBias;

    /** Creates a config with HF's defaults (LLaMA-7B), used by Gson before it fills the keys. */
    private LlamaConfig() {}

    /**
     * Reads a {@code config.json}.
     *
     * @param file the file
     * @return the validated config
     */
    public static LlamaConfig read(Path file) {
        return read(file, LlamaConfig.class);
    }

    /**
     * Reads a {@code config.json} from a reader.
     *
     * @param reader the JSON source
     * @param origin what to call the source in error messages
     * @return the validated config
     */
    public static LlamaConfig read(Reader reader, String origin) {
        return read(reader, LlamaConfig.class, origin);
    }

    /**
     * Parses {@code config.json} text.
     *
     * @param json the JSON text
     * @return the validated config
     */
    public static LlamaConfig parse(String json) {
        return parse(json, LlamaConfig.class);
    }

    /** {@inheritDoc} */
    @Override
    protected void validate() {
        requirePositive("vocab_size", vocabSize);
        requirePositive("hidden_size", hiddenSize);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requirePositive("num_attention_heads", numAttentionHeads);
        requirePositive("num_key_value_heads", numKeyValueHeads());
        if (headDim == null) {
            requireDivisible(hiddenSize, numAttentionHeads);
        }
        requirePositive("head_dim", headDim());
        if (headDim() % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for RoPE, got " + headDim());
        }
        if (numAttentionHeads % numKeyValueHeads() != 0) {
            throw new IllegalArgumentException(
                    "num_attention_heads "
                            + numAttentionHeads
                            + " is not a multiple of num_key_value_heads "
                            + numKeyValueHeads());
        }
        requirePositive("rms_norm_eps", rmsNormEps);
        requirePositive("rope_theta", ropeTheta);
        requireRate("attention_dropout", attentionDropout);
        hiddenAct = Activations.check(hiddenAct, "hidden_act");
        if (ropeScaling != null) {
            Object type = ropeScaling.getOrDefault("rope_type", ropeScaling.get("type"));
            if (!"default".equals(type)) {
                throw new IllegalArgumentException(
                        "rope_scaling "
                                + ropeScaling
                                + " is not supported (only the default RoPE)");
            }
        }
    }

    /**
     * Returns {@code vocab_size}.
     *
     * @return the vocabulary size
     */
    public int vocabSize() {
        return vocabSize;
    }

    /**
     * Returns {@code hidden_size}.
     *
     * @return the hidden size
     */
    public int hiddenSize() {
        return hiddenSize;
    }

    /**
     * Returns {@code intermediate_size}.
     *
     * @return the MLP size
     */
    public int intermediateSize() {
        return intermediateSize;
    }

    /**
     * Returns {@code num_hidden_layers}.
     *
     * @return the number of decoder layers
     */
    public int numHiddenLayers() {
        return numHiddenLayers;
    }

    /**
     * Returns {@code num_attention_heads}.
     *
     * @return the number of query heads
     */
    public int numAttentionHeads() {
        return numAttentionHeads;
    }

    /**
     * Returns {@code num_key_value_heads}, which defaults to the number of query heads.
     *
     * @return the number of key/value heads (fewer than query heads: grouped-query attention)
     */
    public int numKeyValueHeads() {
        return numKeyValueHeads != null ? numKeyValueHeads : numAttentionHeads;
    }

    /**
     * Returns {@code head_dim}, which defaults to {@code hidden_size / num_attention_heads}.
     *
     * @return the per-head size
     */
    public int headDim() {
        return headDim != null ? headDim : hiddenSize / numAttentionHeads;
    }

    /**
     * Returns {@code hidden_act}.
     *
     * @return the MLP activation name
     */
    public String hiddenAct() {
        return hiddenAct;
    }

    /**
     * Returns {@code max_position_embeddings}.
     *
     * @return the context length the model was trained for
     */
    public int maxPositionEmbeddings() {
        return maxPositionEmbeddings;
    }

    /**
     * Returns {@code initializer_range}.
     *
     * @return the standard deviation of freshly initialized weights
     */
    public float initializerRange() {
        return initializerRange;
    }

    /**
     * Returns {@code rms_norm_eps}.
     *
     * @return the RMSNorm epsilon
     */
    public float rmsNormEps() {
        return rmsNormEps;
    }

    /**
     * Returns {@code tie_word_embeddings}.
     *
     * @return whether {@code lm_head} shares {@code model.embed_tokens.weight}
     */
    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }

    /**
     * Returns {@code rope_theta}.
     *
     * @return the RoPE base
     */
    public double ropeTheta() {
        return ropeTheta;
    }

    /**
     * Returns {@code attention_bias}.
     *
     * @return whether the attention projections have biases
     */
    public boolean attentionBias() {
        return attentionBias;
    }

    /**
     * Returns {@code attention_dropout}.
     *
     * @return the attention-probability dropout
     */
    public float attentionDropout() {
        return attentionDropout;
    }

    /**
     * Returns {@code mlp_bias}.
     *
     * @return whether the MLP projections have biases
     */
    public boolean mlpBias() {
        return mlpBias;
    }
}
