package dev.peft4j.train.text;

import java.util.Objects;

/**
 * One labelled text: the cleaned input and its class index into the task's label names.
 *
 * @param text the cleaned text fed to the tokenizer
 * @param label the class index, {@code 0 <= label < labelNames.size()}
 */
public record TextExample(String text, int label) {

    /** Validates the fields. */
    public TextExample {
        Objects.requireNonNull(text, "text");
        if (label < 0) {
            throw new IllegalArgumentException("label must be >= 0, got " + label);
        }
    }
}
