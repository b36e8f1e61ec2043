package dev.peft4j.core.io;

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
                                Comparator.comparingInt((String k) -> distance(key, k))
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

    /** Levenshtein distance with two rolling rows. */
    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
