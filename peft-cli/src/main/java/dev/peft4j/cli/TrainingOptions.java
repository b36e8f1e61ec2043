package dev.peft4j.cli;

import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.train.text.FineTuneRun;
import picocli.CommandLine.Option;

/** The training options every fine-tuning command shares (a picocli mixin). */
public final class TrainingOptions {

    @Option(
            names = "--epochs",
            defaultValue = "2",
            description = "epochs (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(
            names = "--max-steps",
            defaultValue = "2147483647",
            description = "stop after this many steps")
    int maxSteps;

    @Option(
            names = "--batch",
            defaultValue = "16",
            description = "batch size (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(
            names = "--lr",
            description =
                    "Adam learning rate (default: the method's recommended rate, listed in"
                            + " docs/methods.md)")
    Float lr;

    @Option(
            names = "--seed",
            defaultValue = "42",
            description = "seed of splits, shuffling and init (default: ${DEFAULT-VALUE})")
    long seed;

    /** The seed. */
    public long seed() {
        return seed;
    }

    @Option(
            names = "--checkpoint-every",
            defaultValue = "0",
            description =
                    "write a resumable checkpoint to OUT/checkpoints every N steps (default: none)")
    int checkpointEvery;

    @Option(
            names = "--resume",
            description =
                    "start from the newest checkpoint in OUT/checkpoints (with --checkpoint-every)")
    boolean resume;

    /** Whether {@code --checkpoint-every} or {@code --resume} was given. */
    boolean resumeOrCheckpoints() {
        return resume || checkpointEvery > 0;
    }

    /** Whether {@code --lr} was given. */
    public boolean learningRateGiven() {
        return lr != null;
    }

    /**
     * The settings of a run, with a log line every 25 steps and a progress bar: {@code --lr}, or
     * {@code recommendedRate} (the method's {@link AdapterConfig#recommendedLearningRate()}) when
     * it was not given.
     */
    public FineTuneRun.Settings settings(float recommendedRate) {
        if (resume && checkpointEvery <= 0) {
            throw new IllegalArgumentException("--resume needs --checkpoint-every N");
        }
        return new FineTuneRun.Settings(
                batch,
                epochs,
                maxSteps,
                lr == null ? recommendedRate : lr,
                seed,
                25,
                true,
                checkpointEvery,
                resume);
    }
}
