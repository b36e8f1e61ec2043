package dev.peft4j.train.text;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The named splits of one text classification task, with its label names.
 *
 * @param task a short name of the task, e.g. {@code "spam-assassin"} or {@code "sotu-party"}
 * @param labelNames the class names, indexed by {@link TextExample#label()}
 * @param splits the splits in a stable order, e.g. train, validation, test
 */
public record TextSplits(
        String task, List<String> labelNames, Map<String, List<TextExample>> splits) {

    /** Name of the training split. */
    public static final String TRAIN = "train";

    /** Name of the validation split. */
    public static final String VALIDATION = "validation";

    /** Name of the in-domain test split. */
    public static final String TEST = "test";

    /** Name of a test split drawn from a shifted distribution. */
    public static final String TEST_SHIFT = "test_shift";

    /** Copies the collections and checks that every label is a valid index. */
    public TextSplits {
        labelNames = List.copyOf(labelNames);
        Map<String, List<TextExample>> copy = new LinkedHashMap<>();
        for (Map.Entry<String, List<TextExample>> e : splits.entrySet()) {
            for (TextExample example : e.getValue()) {
                if (example.label() >= labelNames.size()) {
                    throw new IllegalArgumentException(
                            task
                                    + "/"
                                    + e.getKey()
                                    + ": label "
                                    + example.label()
                                    + " out of range for "
                                    + labelNames);
                }
            }
            copy.put(e.getKey(), List.copyOf(e.getValue()));
        }
        splits = Collections.unmodifiableMap(copy);
    }

    /** Returns the split of that name, or throws naming the splits that exist. */
    public List<TextExample> split(String name) {
        List<TextExample> split = splits.get(name);
        if (split == null) {
            throw new IllegalArgumentException(
                    task + " has no split '" + name + "'; it has " + splits.keySet());
        }
        return split;
    }

    /** Returns the number of examples of each class in the named split. */
    public int[] classCounts(String name) {
        return classCounts(split(name), labelNames.size());
    }

    /** Returns the number of examples of each of {@code numClasses} classes. */
    public static int[] classCounts(List<TextExample> examples, int numClasses) {
        int[] counts = new int[numClasses];
        for (TextExample example : examples) {
            counts[example.label()]++;
        }
        return counts;
    }

    /**
     * Returns a copy where every split keeps at most {@code maxPerClass} examples of each class,
     * chosen by a seeded shuffle: a cheap way to make a benchmark fit a time budget.
     */
    public TextSplits capPerClass(int maxPerClass, long seed) {
        if (maxPerClass <= 0) {
            throw new IllegalArgumentException("maxPerClass must be > 0, got " + maxPerClass);
        }
        Map<String, List<TextExample>> capped = new LinkedHashMap<>();
        for (Map.Entry<String, List<TextExample>> e : splits.entrySet()) {
            capped.put(
                    e.getKey(),
                    Splits.capPerClass(e.getValue(), labelNames.size(), maxPerClass, seed));
        }
        return new TextSplits(task, labelNames, capped);
    }
}
