package dev.peft4j.init;

import dev.peft4j.init.eva.Eva;
import dev.peft4j.init.eva.TokenMask;
import dev.peft4j.init.loraga.LoraGa;

/**
 * Settings of the data-driven initializations that are not part of the saved config.
 *
 * @param loraGaBatches T: LoRA-GA averages the gradient over this many batches (paper: 64 of 2)
 * @param evaMaxBatches EVA stops after this many batches even without convergence
 * @param evaMask which tokens EVA's PCA sees
 * @param progress whether to show progress bars
 */
public record InitOptions(int loraGaBatches, int evaMaxBatches, TokenMask evaMask, boolean progress) {

    /** Validates the settings. */
    public InitOptions {
        if (loraGaBatches < 1 || evaMaxBatches < 1) {
            throw new IllegalArgumentException("loraGaBatches and evaMaxBatches must be positive, got "
                    + loraGaBatches + " and " + evaMaxBatches);
        }
        if (evaMask == null) {
            throw new IllegalArgumentException("evaMask is required (TokenMask.standard() or TokenMask.all())");
        }
    }

    /** T = 64, at most 500 EVA batches, attention and label masks, progress shown. */
    public static InitOptions defaults() {
        return new InitOptions(LoraGa.DEFAULT_BATCHES, Eva.DEFAULT_MAX_BATCHES, TokenMask.standard(), true);
    }

    /** These options with another LoRA-GA T. */
    public InitOptions withLoraGaBatches(int batches) {
        return new InitOptions(batches, evaMaxBatches, evaMask, progress);
    }

    /** These options with another EVA batch cap. */
    public InitOptions withEvaMaxBatches(int batches) {
        return new InitOptions(loraGaBatches, batches, evaMask, progress);
    }

    /** These options with progress bars on or off. */
    public InitOptions withProgress(boolean show) {
        return new InitOptions(loraGaBatches, evaMaxBatches, evaMask, show);
    }
}
