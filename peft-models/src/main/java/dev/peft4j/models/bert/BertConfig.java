package dev.peft4j.models.bert;

import com.google.gson.annotations.SerializedName;
import dev.peft4j.models.nn.EncoderConfig;
import java.io.Reader;
import java.nio.file.Path;

/**
 * An HF {@code BertConfig} ({@code model_type} "bert"; also MiniLM and BGE), with HF's defaults
 * for keys a {@code config.json} leaves out.
 */
public final class BertConfig extends EncoderConfig {

    @SerializedName("model_type")
    private String modelType = "bert";

    @SerializedName("vocab_size")
    private int vocabSize = 30522;

    @SerializedName("max_position_embeddings")
    private int maxPositionEmbeddings = 512;

    @SerializedName("type_vocab_size")
    private int typeVocabSize = 2;

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
        super.validate();
        requirePositive("vocab_size", vocabSize);
        requirePositive("max_position_embeddings", maxPositionEmbeddings);
        requirePositive("type_vocab_size", typeVocabSize);
        if (classifierDropout != null) {
            requireRate("classifier_dropout", classifierDropout);
        }
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
        return classifierDropout != null ? classifierDropout : hiddenDropoutProb();
    }
}
