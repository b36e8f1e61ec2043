package dev.peft4j.examples.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.train.text.Splits;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Prints the size and class counts of every split of every dataset (fetching the data on first
 * use). With {@code --tokens} it also tokenizes every text and prints the mean MiniLM length and
 * the share of texts cut at 128 tokens.
 */
public final class DatasetStats {

    private DatasetStats() {}

    /** Entry point: {@code DatasetStats [--tokens] [seed]}. */
    public static void main(String[] args) {
        boolean tokens = Arrays.asList(args).contains("--tokens");
        long seed =
                Arrays.stream(args)
                        .filter(a -> !a.startsWith("--"))
                        .findFirst()
                        .map(Long::parseLong)
                        .orElse(Splits.DEFAULT_SEED);
        System.out.println("seed " + seed);
        try (HuggingFaceTokenizer tokenizer = tokens ? MiniLm.tokenizer() : null) {
            Path spam = DataCache.ensure("spam-assassin");
            print(SpamAssassin.load(spam, seed), tokenizer);
            Path sotu = DataCache.ensure("sotu");
            List<StateOfTheUnion.Address> addresses = StateOfTheUnion.loadAddresses(sotu);
            for (StateOfTheUnion.Task task : StateOfTheUnion.Task.values()) {
                int words = StateOfTheUnion.DEFAULT_CHUNK_WORDS;
                System.out.println("(before balancing)");
                print(StateOfTheUnion.splits(addresses, task, words, false, seed), null);
                print(StateOfTheUnion.splits(addresses, task, words, true, seed), tokenizer);
            }
        }
        Path mnist = DataCache.ensure("mnist");
        MnistSet train = Mnist.train(mnist);
        printMnist("mnist train", train);
        printMnist("mnist test", Mnist.test(mnist));
        for (RotatedMnist.Domain domain :
                RotatedMnist.disjointDomains(train, RotatedMnist.ANGLES, 10_000, seed)) {
            printMnist("rotated-mnist train " + (int) domain.degrees() + " deg", domain.images());
        }
    }

    private static void print(TextSplits splits, HuggingFaceTokenizer tokenizer) {
        System.out.println(splits.task() + " " + splits.labelNames());
        for (Map.Entry<String, List<TextExample>> e : splits.splits().entrySet()) {
            System.out.printf(
                    "  %-11s %6d  per class %s%s%n",
                    e.getKey(),
                    e.getValue().size(),
                    Arrays.toString(splits.classCounts(e.getKey())),
                    tokenizer == null ? "" : tokenStats(e.getValue(), tokenizer));
        }
    }

    private static String tokenStats(List<TextExample> examples, HuggingFaceTokenizer tokenizer) {
        long total = 0;
        int truncated = 0;
        for (TextExample example : examples) {
            Encoding encoding = tokenizer.encode(example.text());
            total += encoding.getIds().length;
            truncated += encoding.exceedMaxLength() ? 1 : 0;
        }
        return String.format(
                "  mean tokens %.1f, truncated %.0f%%",
                (double) total / examples.size(), 100.0 * truncated / examples.size());
    }

    private static void printMnist(String name, MnistSet set) {
        int[] counts = new int[10];
        for (int label : set.labels()) {
            counts[label]++;
        }
        System.out.printf("%-34s %6d  per digit %s%n", name, set.size(), Arrays.toString(counts));
    }
}
