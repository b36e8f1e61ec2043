package dev.peft4j.train.embedding;

import java.util.List;

/**
 * One training row: its text columns (anchor, positive, then negatives; or sentence1, sentence2)
 * and its score ({@code NaN} when the row has none).
 *
 * @param texts the columns, in the loss's order
 * @param score the pair's gold similarity, or {@code NaN}
 */
public record EmbeddingExample(List<String> texts, float score) {

    /** Copies the columns. */
    public EmbeddingExample {
        texts = List.copyOf(texts);
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("a row has at least one text");
        }
    }

    /** A row without score. */
    public static EmbeddingExample of(String... texts) {
        return new EmbeddingExample(List.of(texts), Float.NaN);
    }
}
