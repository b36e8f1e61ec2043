package dev.peft4j.models.nn;

import com.google.gson.annotations.SerializedName;

/**
 * The keys BERT-style and ViT-style encoder configs share, with BERT-base defaults; subclasses add
 * their own keys and may change a default in their constructor.
 */
public abstract class EncoderConfig extends HfConfig {

    @SerializedName("hidden_size")
    private int hiddenSize = 768;

    @SerializedName("num_hidden_layers")
    private int numHiddenLayers = 12;

    @SerializedName("num_attention_heads")
    private int numAttentionHeads = 12;

    @SerializedName("intermediate_size")
    private int intermediateSize = 3072;

    @SerializedName("hidden_act")
    private String hiddenAct = "gelu";

    @SerializedName("hidden_dropout_prob")
    private float hiddenDropoutProb = 0.1f;

    @SerializedName("attention_probs_dropout_prob")
    private float attentionProbsDropoutProb = 0.1f;

    @SerializedName("initializer_range")
    private float initializerRange = 0.02f;

    @SerializedName("layer_norm_eps")
    private float layerNormEps = 1e-12f;

    /** Creates a config with the shared defaults. */
    protected EncoderConfig() {}

    /**
     * Changes the default of both dropout rates (before a {@code config.json} is read over it).
     *
     * @param rate the default {@code hidden_dropout_prob} and {@code attention_probs_dropout_prob}
     */
    protected final void defaultDropout(float rate) {
        hiddenDropoutProb = rate;
        attentionProbsDropoutProb = rate;
    }

    /** {@inheritDoc} */
    @Override
    protected void validate() {
        requirePositive("hidden_size", hiddenSize);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requireDivisible(hiddenSize, numAttentionHeads);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("layer_norm_eps", layerNormEps);
        requireRate("hidden_dropout_prob", hiddenDropoutProb);
        requireRate("attention_probs_dropout_prob", attentionProbsDropoutProb);
        hiddenAct = Activations.check(hiddenAct, "hidden_act");
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
     * Returns {@code num_hidden_layers}.
     *
     * @return the number of layers
     */
    public int numHiddenLayers() {
        return numHiddenLayers;
    }

    /**
     * Returns {@code num_attention_heads}.
     *
     * @return the number of heads
     */
    public int numAttentionHeads() {
        return numAttentionHeads;
    }

    /**
     * Returns {@code intermediate_size}.
     *
     * @return the feed-forward size
     */
    public int intermediateSize() {
        return intermediateSize;
    }

    /**
     * Returns {@code hidden_act}.
     *
     * @return the activation name
     */
    public String hiddenAct() {
        return hiddenAct;
    }

    /**
     * Returns {@code hidden_dropout_prob}.
     *
     * @return the hidden dropout rate
     */
    public float hiddenDropoutProb() {
        return hiddenDropoutProb;
    }

    /**
     * Returns {@code attention_probs_dropout_prob}.
     *
     * @return the attention dropout rate
     */
    public float attentionProbsDropoutProb() {
        return attentionProbsDropoutProb;
    }

    /**
     * Returns {@code initializer_range}, the standard deviation of freshly initialized weights.
     *
     * @return the initializer standard deviation
     */
    public float initializerRange() {
        return initializerRange;
    }

    /**
     * Returns {@code layer_norm_eps}.
     *
     * @return the LayerNorm epsilon
     */
    public float layerNormEps() {
        return layerNormEps;
    }
}
