package dev.peft4j.train.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SplitsTest {

    /** 100 items of class 0 and 30 of class 1; item i has label i < 100 ? 0 : 1. */
    private static List<TextExample> items() {
        List<TextExample> items = new ArrayList<>();
        for (int i = 0; i < 130; i++) {
            items.add(new TextExample("item " + i, i < 100 ? 0 : 1));
        }
        return items;
    }

    private static Splits.Partition<TextExample> split(double validation, double test, long seed) {
        return Splits.stratified(items(), TextExample::label, validation, test, seed);
    }

    @Test
    void stratifiedKeepsClassProportionsAndCoversEveryItemOnce() {
        Splits.Partition<TextExample> p = split(0.1, 0.2, 7);
        // class 0: round(100*0.2)=20 test, 10 validation, 70 train; class 1: 6, 3, 21
        assertArrayEquals(new int[] {70, 21}, TextSplits.classCounts(p.train(), 2));
        assertArrayEquals(new int[] {10, 3}, TextSplits.classCounts(p.validation(), 2));
        assertArrayEquals(new int[] {20, 6}, TextSplits.classCounts(p.test(), 2));
        Set<TextExample> all = new HashSet<>(p.train());
        all.addAll(p.validation());
        all.addAll(p.test());
        assertEquals(new HashSet<>(items()), all, "the parts are disjoint and cover the input");
    }

    @Test
    void sameSeedSameSplitOtherSeedOtherSplit() {
        Splits.Partition<TextExample> a = split(0.1, 0.1, 1);
        Splits.Partition<TextExample> b = split(0.1, 0.1, 1);
        Splits.Partition<TextExample> c = split(0.1, 0.1, 2);
        assertEquals(a, b);
        assertNotEquals(new HashSet<>(a.test()), new HashSet<>(c.test()));
    }

    @Test
    void smallClassesStillGetOneValidationAndTestItem() {
        List<TextExample> three =
                List.of(new TextExample("a", 0), new TextExample("b", 0), new TextExample("c", 0));
        Splits.Partition<TextExample> p = Splits.stratified(three, TextExample::label, 0.1, 0.1, 3);
        assertEquals(
                List.of(1, 1, 1),
                List.of(p.train().size(), p.validation().size(), p.test().size()));
    }

    @Test
    void rejectsFractionsThatLeaveNoTrainingData() {
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> split(0.5, 0.5, 0));
        assertTrue(e.getMessage().contains("validation + test < 1"), e.getMessage());
    }

    @Test
    void permutationIsAPermutationAndSeeded() {
        int[] p = Splits.permutation(50, new Random(5));
        assertArrayEquals(IntStream.range(0, 50).toArray(), IntStream.of(p).sorted().toArray());
        assertArrayEquals(p, Splits.permutation(50, new Random(5)));
        assertNotEquals(
                IntStream.of(p).boxed().toList(),
                IntStream.of(Splits.permutation(50, new Random(6))).boxed().toList());
    }

    @Test
    void balancedDownsamplesToTheSmallestClass() {
        List<TextExample> balanced = Splits.balanced(items(), 2, 9);
        assertArrayEquals(new int[] {30, 30}, TextSplits.classCounts(balanced, 2));
        assertTrue(items().containsAll(balanced));
        assertEquals(60, new HashSet<>(balanced).size(), "no example is repeated");
    }

    @Test
    void capPerClassKeepsAtMostThatMany() {
        TextSplits splits = new TextSplits("t", List.of("a", "b"), Map.of("train", items()));
        assertArrayEquals(new int[] {25, 25}, splits.capPerClass(25, 4).classCounts("train"));
        assertArrayEquals(new int[] {40, 30}, splits.capPerClass(40, 4).classCounts("train"));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> splits.split("dev"));
        assertTrue(e.getMessage().contains("[train]"), e.getMessage());
    }
}
