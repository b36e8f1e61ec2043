package dev.peft4j.merge;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a merge did: the method and its options, the models, how many tensors were read and
 * changed, the time, the output and its size, and method-specific details (OPCM's per-step
 * lambdas, FW's step sizes and selections).
 *
 * @param method the method name
 * @param options the options in effect
 * @param models the candidate names in merge order
 * @param tensors tensors of the base processed
 * @param changedTensors tensors whose merged value differs from the base
 * @param seconds wall time
 * @param output what was written
 * @param outputBytes tensor bytes written
 * @param details method-specific facts, in order
 * @param notes warnings (tensors left out...)
 */
public record MergeReport(
        String method,
        Map<String, Object> options,
        List<String> models,
        int tensors,
        int changedTensors,
        double seconds,
        String output,
        long outputBytes,
        Map<String, Object> details,
        List<String> notes) {

    /** Copies the collections. */
    public MergeReport {
        options = new LinkedHashMap<>(options);
        models = List.copyOf(models);
        details = new LinkedHashMap<>(details);
        notes = List.copyOf(notes);
    }

    /** The summary printed by {@code peft merge}. */
    public List<String> summaryLines() {
        List<String> lines = new ArrayList<>();
        lines.add("method:   " + method + " " + options);
        lines.add("models:   " + models.size() + " " + models);
        lines.add(String.format(Locale.ROOT, "tensors:  %d (%d changed)", tensors, changedTensors));
        lines.add(String.format(Locale.ROOT, "time:     %.2f s", seconds));
        lines.add(String.format(Locale.ROOT, "output:   %s, %s", output, humanBytes(outputBytes)));
        details.forEach((k, v) -> lines.add(String.format(Locale.ROOT, "%-9s %s", k + ":", v)));
        notes.forEach(n -> lines.add("note:     " + n));
        return lines;
    }

    /** Bytes as {@code 86.7 MB} (decimal units, as Hugging Face prints sizes). */
    public static String humanBytes(long bytes) {
        String[] units = {"B", "kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = 0;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }
}
