package dev.peft4j.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.peft4j.examples.data.StateOfTheUnion.Address;
import dev.peft4j.examples.data.StateOfTheUnion.Task;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateOfTheUnionTest {

    private static final Pattern ADDRESS_MARK = Pattern.compile("address (\\d+) ");

    @TempDir Path root;

    /** Twelve words, naming the address so every chunk can be traced back to it. */
    private static String sentence(int address, int j) {
        return "This is sentence " + j + " of address " + address + " with a few filler words.";
    }

    private static String text(int address, int sentences) {
        List<String> parts = new ArrayList<>();
        for (int j = 0; j < sentences; j++) {
            parts.add(sentence(address, j));
        }
        return String.join(" ", parts);
    }

    private void writeAddress(int k, int year, String party, int sentences) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("year", year);
        o.addProperty("name", "President " + k);
        o.addProperty("party", party);
        o.addProperty("text", text(k, sentences));
        Path dir = Files.createDirectories(root.resolve("data"));
        Files.writeString(
                dir.resolve(year + "_president_" + k + "_" + party.charAt(0) + ".json"),
                o.toString());
    }

    /** 10 Democratic (10 sentences), 10 Republican (14 sentences), 3 Whig addresses. */
    private List<Address> writeCorpus() throws IOException {
        for (int k = 0; k < 23; k++) {
            String party = k < 10 ? "Democratic" : k < 20 ? "Republican" : "Whig";
            writeAddress(k, 1800 + 10 * k, party, k >= 10 && k < 20 ? 14 : 10);
        }
        return StateOfTheUnion.loadAddresses(root);
    }

    private static int addressOf(TextExample chunk) {
        Matcher m = ADDRESS_MARK.matcher(chunk.text());
        assertTrue(m.find(), chunk.text());
        return Integer.parseInt(m.group(1));
    }

    @Test
    void chunksAreWholeSentencesUnderTheLimitAndLoseNoWord() {
        String text = text(7, 10); // 10 sentences of 12 words
        List<String> chunks = StateOfTheUnion.chunks(text, 30);
        assertEquals(5, chunks.size(), "two 12-word sentences fit in 30 words, three do not");
        for (String chunk : chunks) {
            assertTrue(chunk.endsWith("words."), chunk);
            assertEquals(24, chunk.split(" ").length);
        }
        assertEquals(text, String.join(" ", chunks));
    }

    @Test
    void longSentencesAreCutAndShortTailsJoinThePreviousChunk() {
        String longSentence = "word ".repeat(25).strip() + ".";
        assertEquals(
                List.of(
                        "word ".repeat(10).strip(),
                        "word ".repeat(10).strip(),
                        "word ".repeat(4) + "word. Tail."),
                StateOfTheUnion.chunks(longSentence + " Tail.", 10));
        assertEquals(
                List.of("a b c d e f g h i j. k."),
                StateOfTheUnion.chunks("a b c d e f g h i j. k.", 10),
                "1 word < 10 / 4 joins");
        assertThrows(IllegalArgumentException.class, () -> StateOfTheUnion.chunks("a.", 0));
    }

    @Test
    void partyDropsOtherPartiesAndKeepsEveryAddressInOneSplit() throws IOException {
        List<Address> addresses = writeCorpus();
        TextSplits splits = StateOfTheUnion.splits(addresses, Task.PARTY, 30, false, 42);
        assertEquals(List.of("Democratic", "Republican"), splits.labelNames());
        Map<Integer, String> splitOfAddress = new HashMap<>();
        Map<String, Set<Integer>> addressesOfSplit = new HashMap<>();
        int chunks = 0;
        for (Map.Entry<String, List<TextExample>> e : splits.splits().entrySet()) {
            for (TextExample chunk : e.getValue()) {
                int address = addressOf(chunk);
                assertTrue(address < 20, "a Whig address was kept: " + chunk.text());
                assertEquals(address < 10 ? 0 : 1, chunk.label());
                String previous = splitOfAddress.put(address, e.getKey());
                assertTrue(
                        previous == null || previous.equals(e.getKey()),
                        "address " + address + " is in " + previous + " and " + e.getKey());
                addressesOfSplit.computeIfAbsent(e.getKey(), k -> new HashSet<>()).add(address);
                chunks++;
            }
        }
        // 10 addresses per party -> 8/1/1; Democratic ones give 5 chunks, Republican ones 7
        assertEquals(20, splitOfAddress.size());
        assertEquals(
                List.of(16, 2, 2),
                List.of(
                        addressesOfSplit.get("train").size(),
                        addressesOfSplit.get("validation").size(),
                        addressesOfSplit.get("test").size()));
        assertEquals(10 * 5 + 10 * 7, chunks);
        assertArrayEquals(new int[] {40, 56}, splits.classCounts("train"));
    }

    @Test
    void balancedSplitsHaveEqualClassCounts() throws IOException {
        TextSplits splits = StateOfTheUnion.splits(writeCorpus(), Task.PARTY, 30, true, 42);
        assertArrayEquals(new int[] {40, 40}, splits.classCounts("train"));
        assertArrayEquals(new int[] {5, 5}, splits.classCounts("validation"));
        assertArrayEquals(new int[] {5, 5}, splits.classCounts("test"));
    }

    @Test
    void sameSeedSameSplitsOtherSeedOtherAddresses() throws IOException {
        List<Address> addresses = writeCorpus();
        TextSplits a = StateOfTheUnion.splits(addresses, Task.PARTY, 30, true, 1);
        assertEquals(a, StateOfTheUnion.splits(addresses, Task.PARTY, 30, true, 1));
        Set<Integer> testA = new HashSet<>();
        a.split("test").forEach(c -> testA.add(addressOf(c)));
        Set<Integer> testB = new HashSet<>();
        StateOfTheUnion.splits(addresses, Task.PARTY, 30, true, 2)
                .split("test")
                .forEach(c -> testB.add(addressOf(c)));
        assertNotEquals(testA, testB);
    }

    @Test
    void eraBoundariesFollowTheDocumentedYears() {
        int[] years = {1790, 1860, 1861, 1912, 1913, 1960, 1961, 2021};
        int[] expected = {0, 0, 1, 1, 2, 2, 3, 3};
        for (int i = 0; i < years.length; i++) {
            Address a = new Address("x", years[i], "p", "Whig", "t");
            assertEquals(expected[i], Task.ERA.label(a), "year " + years[i]);
            assertEquals(-1, Task.PARTY.label(a));
        }
    }

    @Test
    void realAddressParses() throws URISyntaxException {
        List<Address> addresses =
                StateOfTheUnion.loadAddresses(Paths.get(getClass().getResource("/sotu").toURI()));
        assertEquals(1, addresses.size());
        Address hoover = addresses.get(0);
        assertEquals(
                List.of("1932_herbert_hoover_r", 1932, "Herbert Hoover", "Republican"),
                List.of(hoover.id(), hoover.year(), hoover.president(), hoover.party()));
        assertTrue(hoover.text().startsWith("To the Senate and House of Representatives:"));
        assertEquals(1, Task.PARTY.label(hoover));
        assertEquals(2, Task.ERA.label(hoover));
        List<String> chunks = StateOfTheUnion.chunks(hoover.text(), 80);
        assertEquals(
                List.of(hoover.text().split("\\s+")), List.of(String.join(" ", chunks).split(" ")));
        assertTrue(chunks.stream().allMatch(c -> c.split(" ").length <= 80 + 20));
    }

    @Test
    void missingFieldIsReportedWithTheFile() throws IOException {
        Files.createDirectories(root.resolve("data"));
        Files.writeString(root.resolve("data/1999_x_d.json"), "{\"year\":1999,\"name\":\"x\"}");
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class, () -> StateOfTheUnion.loadAddresses(root));
        assertTrue(
                e.getMessage().contains("1999_x_d.json") && e.getMessage().contains("'party'"),
                e.getMessage());
    }
}
