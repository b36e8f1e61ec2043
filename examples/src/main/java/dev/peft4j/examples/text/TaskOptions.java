package dev.peft4j.examples.text;

import picocli.CommandLine.Option;

/** The command-line options every MiniLM fine-tuning example shares (a picocli mixin). */
public final class TaskOptions {

    /** The task name of {@link TextTasks}. */
    @Option(names = "--task", defaultValue = "spam", description = "spam, sotu-party or sotu-era (default: ${DEFAULT-VALUE})")
    public String task;

    /** The batch size. */
    @Option(names = "--batch", defaultValue = "16", description = "batch size (default: ${DEFAULT-VALUE})")
    public int batch;

    /** Adam's learning rate. */
    @Option(names = "--lr", defaultValue = "1e-3", description = "Adam learning rate (default: ${DEFAULT-VALUE})")
    public float lr;

    /** The seed of splits, shuffling and initialization. */
    @Option(names = "--seed", defaultValue = "42", description = "seed of splits, shuffling and init")
    public long seed;
}
