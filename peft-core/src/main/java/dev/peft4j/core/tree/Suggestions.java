package dev.peft4j.core.tree;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/** "Did you mean" suggestions by edit distance, used in error messages about names. */
public final class Suggestions {

    private Suggestions() {}

    /** The {@code limit} candidates closest to {@code name}, by edit distance of the full string or its last segment. */
    public static List<String> closest(String name, Collection<String> candidates, int limit) {
        return candidates.stream()
                .filter(c -> !c.isEmpty())
                .sorted(
                        Comparator.comparingInt((String c) -> distance(name, c))
                                .thenComparing(c -> c))
                .limit(limit)
                .collect(Collectors.toList());
    }

    private static int distance(String name, String candidate) {
        String last = candidate.substring(candidate.lastIndexOf('.') + 1);
        int full = levenshtein(name, candidate);
        int tail = levenshtein(name, last);
        return candidate.endsWith("." + name) || candidate.equals(name) ? 0 : Math.min(full, tail);
    }

    /** Classic Levenshtein distance. */
    public static int levenshtein(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
