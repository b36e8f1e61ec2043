package dev.peft4j.core.io;

import dev.peft4j.core.tree.Suggestions;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/** Builds "unknown tensor" messages that list the closest existing names by edit distance. */
public final class KeySuggestions {

    private static final int SHOWN = 3;

    private KeySuggestions() {}

    /** An exception for a missing {@code key} in {@code where}, naming up to three close keys. */
    public static IllegalArgumentException unknownKey(
            String key, Collection<String> keys, Object where) {
        List<String> closest =
                keys.stream()
                        .sorted(
                                Comparator.comparingInt(
                                                (String k) -> Suggestions.levenshtein(key, k))
                                        .thenComparing(k -> k))
                        .limit(SHOWN)
                        .collect(Collectors.toList());
        String hint =
                closest.isEmpty()
                        ? "it holds no tensors"
                        : "closest names: " + String.join(", ", closest);
        return new IllegalArgumentException(
                "No tensor '" + key + "' in " + where + " (" + keys.size() + " tensors); " + hint);
    }
}
