package dev.peft4j.train.text;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.ToIntFunction;

/**
 * Deterministic seeded shuffles and stratified train/validation/test partitions.
 *
 * <p>All randomness comes from one {@link java.util.Random} seeded by the caller, whose sequence
 * is fixed by the Java specification, so a seed gives the same split on every JVM.
 */
public final class Splits {

    /** The seed the datasets use when the caller does not choose one. */
    public static final long DEFAULT_SEED = 42L;

    private Splits() {}

    /**
     * The three parts of a partition.
     *
     * @param train the training items
     * @param validation the validation items
     * @param test the test items
     * @param <T> the item type
     */
    public record Partition<T>(List<T> train, List<T> validation, List<T> test) {}

    /** Returns a shuffled copy of {@code items}, drawing from {@code random}. */
    public static <T> List<T> shuffled(List<T> items, Random random) {
        List<T> copy = new ArrayList<>(items);
        Collections.shuffle(copy, random);
        return copy;
    }

    /** Returns a random permutation of {@code 0..n-1} (Fisher-Yates, drawing from random). */
    public static int[] permutation(int n, Random random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        return order;
    }

    /**
     * Splits items class by class so every part keeps the class proportions.
     *
     * <p>Rule: classes are visited in increasing label order; each is shuffled with one
     * {@code Random(seed)}; its first {@code round(n * testFraction)} items go to test, the next
     * {@code round(n * validationFraction)} to validation, the rest to train (a class of at least
     * three items gives each non-zero fraction at least one item). Each part is then shuffled
     * again with the same generator so classes are interleaved.
     *
     * @param items the items to split (their order matters only through the seed)
     * @param classOf the stratification class of an item
     * @param validationFraction the fraction of each class for validation, in [0, 1)
     * @param testFraction the fraction of each class for test, in [0, 1)
     * @param seed the seed of the shuffles
     * @param <T> the item type
     * @return the partition
     */
    public static <T> Partition<T> stratified(
            List<T> items,
            ToIntFunction<T> classOf,
            double validationFraction,
            double testFraction,
            long seed) {
        if (validationFraction < 0 || testFraction < 0 || validationFraction + testFraction >= 1) {
            throw new IllegalArgumentException(
                    "need 0 <= validation, test and validation + test < 1, got "
                            + validationFraction
                            + ", "
                            + testFraction);
        }
        Map<Integer, List<T>> byClass = new TreeMap<>();
        for (T item : items) {
            byClass.computeIfAbsent(classOf.applyAsInt(item), k -> new ArrayList<>()).add(item);
        }
        Random random = new Random(seed);
        List<T> train = new ArrayList<>();
        List<T> validation = new ArrayList<>();
        List<T> test = new ArrayList<>();
        for (List<T> members : byClass.values()) {
            List<T> shuffled = shuffled(members, random);
            int n = shuffled.size();
            int nTest = partSize(n, testFraction);
            int nValidation = partSize(n, validationFraction);
            test.addAll(shuffled.subList(0, nTest));
            validation.addAll(shuffled.subList(nTest, nTest + nValidation));
            train.addAll(shuffled.subList(nTest + nValidation, n));
        }
        return new Partition<>(
                shuffled(train, random), shuffled(validation, random), shuffled(test, random));
    }

    private static int partSize(int n, double fraction) {
        int size = (int) Math.round(n * fraction);
        return fraction > 0 && n >= 3 ? Math.max(1, size) : size;
    }

    /**
     * Downsamples every class to the size of the smallest non-empty class (a seeded random choice
     * of each larger class), shuffled.
     */
    public static List<TextExample> balanced(
            List<TextExample> examples, int numClasses, long seed) {
        int target = Integer.MAX_VALUE;
        for (int count : TextSplits.classCounts(examples, numClasses)) {
            if (count > 0) {
                target = Math.min(target, count);
            }
        }
        return capPerClass(examples, numClasses, target, seed);
    }

    /** Keeps at most {@code maxPerClass} examples of each class (a seeded choice), shuffled. */
    public static List<TextExample> capPerClass(
            List<TextExample> examples, int numClasses, int maxPerClass, long seed) {
        int[] kept = new int[numClasses];
        List<TextExample> out = new ArrayList<>();
        for (TextExample example : shuffled(examples, new Random(seed))) {
            if (kept[example.label()]++ < maxPerClass) {
                out.add(example);
            }
        }
        return out;
    }
}
