package dev.peft4j.init;

import dev.peft4j.init.eva.Eva;
import dev.peft4j.init.eva.TokenMask;
import dev.peft4j.init.loraga.LoraGa;

/**
 * Settings of the data-driven initializations that are not part of the saved config.
 *
 * @param loraGaExamples LoRA-GA averages the gradient over the first batches holding this many
 *     examples (the paper's T = 64 batches of 2: 128)
 * @param evaMaxBatches EVA stops after this many batches even without convergence
 * @param evaMask which tokens EVA's PCA sees
 * @param progress whether to show progress bars
 */
public record InitOptions(
        int loraGaExamples, int evaMaxBatches, TokenMask evaMask, boolean progress) {

    /** Validates the settings. */
    public InitOptions {
        if (loraGaExamples < 1 || evaMaxBatches < 1) {
            throw new IllegalArgumentException(
                    "loraGaExamples and evaMaxBatches must be positive, got "
                            + loraGaExamples
                            + " and "
                            + evaMaxBatches);
        }
        if (evaMask == null) {
            throw new IllegalArgumentException(
                    "evaMask is required (TokenMask.standard() or TokenMask.all())");
        }
    }

    /** 128 examples for LoRA-GA, at most 500 EVA batches, attention and label masks, progress shown. */
    public static InitOptions defaults() {
        return new InitOptions(
                LoraGa.DEFAULT_EXAMPLES, Eva.DEFAULT_MAX_BATCHES, TokenMask.standard(), true);
    }

    /** These options with another number of LoRA-GA examples. */
    public InitOptions withLoraGaExamples(int examples) {
        return new InitOptions(examples, evaMaxBatches, evaMask, progress);
    }

    /** These options with another EVA batch cap. */
    public InitOptions withEvaMaxBatches(int batches) {
        return new InitOptions(loraGaExamples, batches, evaMask, progress);
    }

    /** These options with progress bars on or off. */
    public InitOptions withProgress(boolean show) {
        return new InitOptions(loraGaExamples, evaMaxBatches, evaMask, show);
    }
}
