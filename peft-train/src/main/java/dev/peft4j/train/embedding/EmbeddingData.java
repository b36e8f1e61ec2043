package dev.peft4j.train.embedding;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSONL training formats of sentence-transformers' losses, one object per line (blank lines
 * skipped): {@code {"anchor", "positive"}} pairs, with an optional {@code "negative"} (then on
 * every line: a hard-negative column), for the in-batch-negatives and triplet losses; and {@code
 * {"sentence1", "sentence2", "score"}} for the scored-pair losses. Every error names the file and
 * line.
 */
public final class EmbeddingData {

    private EmbeddingData() {}

    /** The text columns of a pair file: anchor, positive and, when present, negative. */
    public static List<EmbeddingExample> readPairs(Path file) throws IOException {
        List<EmbeddingExample> out = new ArrayList<>();
        Boolean negatives = null;
        for (Line line : lines(file)) {
            String anchor = text(line, "anchor");
            String positive = text(line, "positive");
            boolean hasNegative = line.object().has("negative");
            if (negatives == null) {
                negatives = hasNegative;
            } else if (negatives != hasNegative) {
                throw line.error(
                        negatives
                                ? "no \"negative\", but the first row has one (every row or none)"
                                : "a \"negative\", but the first row has none (every row or none)");
            }
            out.add(
                    hasNegative
                            ? EmbeddingExample.of(anchor, positive, text(line, "negative"))
                            : EmbeddingExample.of(anchor, positive));
        }
        return nonEmpty(out, file);
    }

    /**
     * The scored pairs of a file, each score checked to lie in {@code [min, max]} (for the cosine
     * similarity loss, whose target is a cosine, {@code [-1, 1]}; unbounded for CoSENT, which only
     * ranks).
     */
    public static List<EmbeddingExample> readScored(Path file, double min, double max)
            throws IOException {
        List<EmbeddingExample> out = new ArrayList<>();
        for (Line line : lines(file)) {
            String a = text(line, "sentence1");
            String b = text(line, "sentence2");
            JsonElement s = line.object().get("score");
            if (s == null
                    || !s.isJsonPrimitive()
                    || !s.getAsJsonPrimitive().isNumber()
                    || !Double.isFinite(s.getAsDouble())) {
                throw line.error("expected a number under \"score\"");
            }
            double score = s.getAsDouble();
            if (score < min || score > max) {
                throw line.error(
                        "score " + score + " is outside [" + min + ", " + max + "] for this loss");
            }
            out.add(new EmbeddingExample(List.of(a, b), (float) score));
        }
        return nonEmpty(out, file);
    }

    /** A line of a JSONL file: its number and object. */
    record Line(Path file, int number, JsonObject object) {
        IllegalArgumentException error(String problem) {
            return new IllegalArgumentException(file + ":" + number + ": " + problem);
        }
    }

    static List<Line> lines(Path file) throws IOException {
        List<Line> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String text;
            int n = 0;
            while ((text = r.readLine()) != null) {
                n++;
                if (text.isBlank()) {
                    continue;
                }
                JsonElement e;
                try {
                    e = JsonParser.parseString(text);
                } catch (RuntimeException ex) {
                    throw new IllegalArgumentException(
                            file + ":" + n + ": not JSON: " + ex.getMessage());
                }
                if (!e.isJsonObject()) {
                    throw new IllegalArgumentException(file + ":" + n + ": expected an object");
                }
                out.add(new Line(file, n, e.getAsJsonObject()));
            }
        }
        return out;
    }

    static String text(Line line, String key) {
        JsonElement e = line.object().get(key);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw line.error("expected a string under \"" + key + "\"");
        }
        return e.getAsString();
    }

    private static List<EmbeddingExample> nonEmpty(List<EmbeddingExample> rows, Path file) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException(file + ": no rows");
        }
        return rows;
    }
}
