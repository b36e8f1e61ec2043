package dev.peft4j.models.bert;

import com.google.gson.annotations.SerializedName;
import dev.peft4j.models.nn.Activations;
import dev.peft4j.models.nn.HfConfig;
import java.io.Reader;
import java.nio.file.Path;

/**
 * An HF {@code BertConfig} ({@code model_type} "bert"; also MiniLM and BGE), with HF's defaults
 * for keys a {@code config.json} leaves out.
 */
public final class BertConfig extends HfConfig {

    @SerializedName("model_type")
    private String modelType = "bert";

    @SerializedName("vocab_size")
    private int vocabSize = 30522;

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

    @SerializedName("max_position_embeddings")
    private int maxPositionEmbeddings = 512;

    @SerializedName("type_vocab_size")
    private int typeVocabSize = 2;

    @SerializedName("initializer_range")
    private float initializerRange = 0.02f;

    @SerializedName("layer_norm_eps")
    private float layerNormEps = 1e-12f;

    @SerializedName("pad_token_id")
    private int padTokenId;

    @SerializedName("position_embedding_type")
    private String positionEmbeddingType = "absolute";

    @SerializedName("classifier_dropout")
    private Float classifierDropout;

    /** Creates a config with HF's defaults (BERT-base), used by Gson before it fills the keys. */
    private BertConfig() {}

    /**
     * Reads a {@code config.json}.
     *
     * @param file the file
     * @return the validated config
     */
    public static BertConfig read(Path file) {
        return read(file, BertConfig.class);
    }

    /**
     * Reads a {@code config.json} from a reader.
     *
     * @param reader the JSON source
     * @param origin what to call the source in error messages
     * @return the validated config
     */
    public static BertConfig read(Reader reader, String origin) {
        return read(reader, BertConfig.class, origin);
    }

    /**
     * Parses {@code config.json} text.
     *
     * @param json the JSON text
     * @return the validated config
     */
    public static BertConfig parse(String json) {
        return parse(json, BertConfig.class);
    }

    /** {@inheritDoc} */
    @Override
    protected void validate() {
        requirePositive("vocab_size", vocabSize);
        requirePositive("hidden_size", hiddenSize);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requireDivisible(hiddenSize, numAttentionHeads);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        requirePositive("type_vocab_size", typeVocabSize);
        requirePositive("layer_norm_eps", layerNormEps);
        requireRate("hidden_dropout_prob", hiddenDropoutProb);
        requireRate("attention_probs_dropout_prob", attentionProbsDropoutProb);
        if (classifierDropout != null) {
            requireRate("classifier_dropout", classifierDropout);
        }
        hiddenAct = Activations.check(hiddenAct, "hidden_act");
        if (!"absolute".equals(positionEmbeddingType)) {
            throw new IllegalArgumentException(
                    "position_embedding_type = \""
                            + positionEmbeddingType
                            + "\" is not supported; expected \"absolute\"");
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
     * Returns {@code max_position_embeddings}.
     *
     * @return the number of positions
     */
    public int maxPositionEmbeddings() {
        return maxPositionEmbeddings;
    }

    /**
     * Returns {@code type_vocab_size}.
     *
     * @return the number of token types
     */
    public int typeVocabSize() {
        return typeVocabSize;
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

    /**
     * Returns {@code pad_token_id}.
     *
     * @return the padding token id
     */
    public int padTokenId() {
        return padTokenId;
    }

    /**
     * Returns the dropout before a classification head: {@code classifier_dropout}, or {@code
     * hidden_dropout_prob} when unset (as HF does).
     *
     * @return the classifier dropout rate
     */
    public float classifierDropout() {
        return classifierDropout != null ? classifierDropout : hiddenDropoutProb;
    }
}
