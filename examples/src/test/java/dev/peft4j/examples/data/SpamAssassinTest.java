package dev.peft4j.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpamAssassinTest {

    @TempDir Path root;

    /** Writes one message file in the corpus layout: {@code data/<group>/<id>.<md5>.json}. */
    private void message(String group, int id, String subject, String body) throws IOException {
        JsonObject checksum = new JsonObject();
        checksum.addProperty("type", "MD5");
        checksum.addProperty("value", "0123456789abcdef0123456789abcdef");
        JsonObject o = new JsonObject();
        o.addProperty("id", String.format("%05d", id));
        o.addProperty("group", group);
        o.add("checksum", checksum);
        o.addProperty(
                "text",
                "From x@example.com  Thu Aug 22 12:36:23 2002\n"
                        + "Return-Path: <x@example.com>\n"
                        + "Subject: "
                        + subject
                        + "\n\n"
                        + body
                        + "\n");
        Path dir = Files.createDirectories(root.resolve("data").resolve(group));
        String md5 = checksum.get("value").getAsString();
        Files.writeString(dir.resolve(String.format("%05d.%s.json", id, md5)), o.toString());
    }

    /** 20 ham, 10 spam (and a copy of one), 3 hard ham (one copying a ham), 4 spam-2. */
    private void writeCorpus() throws IOException {
        for (int i = 0; i < 20; i++) {
            message("easy-ham-1", i, "meeting " + i, "notes for meeting " + i);
        }
        for (int i = 0; i < 10; i++) {
            message("spam-1", i, "WIN $" + i, "<html><b>cheap</b> pills " + i + "</html>");
        }
        message("spam-1", 10, "WIN $3", "<html><b>cheap</b> pills 3</html>");
        message("hard-ham-1", 0, "newsletter 0", "<p>deals of the week</p>");
        message("hard-ham-1", 1, "newsletter 1", "<p>more deals</p>");
        message("hard-ham-1", 2, "meeting 5", "notes for meeting 5");
        for (int i = 0; i < 4; i++) {
            message("spam-2", i, "offer " + i, "act now " + i);
        }
    }

    @Test
    void groupsParseIntoCleanedTextsWithGroupLabels() throws IOException {
        writeCorpus();
        List<TextExample> spam = SpamAssassin.loadGroup(root, "spam-1");
        assertEquals(11, spam.size());
        assertEquals(new TextExample("WIN $0\ncheap pills 0", 1), spam.get(0));
        assertEquals(
                new TextExample("meeting 0\nnotes for meeting 0", 0),
                SpamAssassin.loadGroup(root, "easy-ham-1").get(0));
    }

    @Test
    void splitsAreStratifiedDisjointAndDeduplicated() throws IOException {
        writeCorpus();
        TextSplits splits = SpamAssassin.load(root, 42);
        assertEquals(List.of("ham", "spam"), splits.labelNames());
        assertEquals(
                List.of("train", "validation", "test", "test_shift"),
                new ArrayList<>(splits.splits().keySet()));
        // ham 20 -> 16/2/2, spam 10 distinct (the 11th is a copy) -> 8/1/1
        assertArrayEquals(new int[] {16, 8}, splits.classCounts("train"));
        assertArrayEquals(new int[] {2, 1}, splits.classCounts("validation"));
        assertArrayEquals(new int[] {2, 1}, splits.classCounts("test"));
        // the hard ham copying "meeting 5" is dropped from the shifted test
        assertArrayEquals(new int[] {2, 4}, splits.classCounts("test_shift"));
        Set<String> seen = new HashSet<>();
        for (List<TextExample> split : splits.splits().values()) {
            for (TextExample example : split) {
                assertTrue(seen.add(example.text()), "text in two places: " + example.text());
            }
        }
    }

    @Test
    void sameSeedSameSplitsOtherSeedOtherSplits() throws IOException {
        writeCorpus();
        assertEquals(SpamAssassin.load(root, 1), SpamAssassin.load(root, 1));
        assertNotEquals(
                SpamAssassin.load(root, 1).split("train"),
                SpamAssassin.load(root, 2).split("train"));
    }

    @Test
    void realCorpusMessagesAreCleaned() throws URISyntaxException {
        Path fixtures = Paths.get(getClass().getResource("/spam-assassin").toURI());
        assertEquals(
                List.of(
                        new TextExample(
                                "[Spambayes] speed\n"
                                        + "If the frequency of my laptop's disk chirps are any"
                                        + " indication, I'd say hammie is about 3-5x faster than"
                                        + " SpamAssassin. Skip",
                                0)),
                SpamAssassin.loadGroup(fixtures, "easy-ham-1"));
        // Big5 encoded-word subject (decoded independently with Python's base64 + big5 codecs);
        // the HTML body holds only an iframe, so nothing of it remains
        assertEquals(
                List.of(new TextExample("拾金不昧~~別傻了~~", 1)),
                SpamAssassin.loadGroup(fixtures, "spam-1"));
    }

    @Test
    void missingGroupFolderIsNamed() {
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> SpamAssassin.loadGroup(root, "spam-1"));
        assertTrue(e.getMessage().contains(root.resolve("data/spam-1").toString()), e.getMessage());
    }

    @Test
    void fileWithoutTextIsRejectedByName() throws IOException {
        Path dir = Files.createDirectories(root.resolve("data/spam-2"));
        Files.writeString(dir.resolve("00001.x.json"), "{\"id\":\"00001\"}");
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> SpamAssassin.loadGroup(root, "spam-2"));
        assertTrue(
                e.getMessage().contains("00001.x.json") && e.getMessage().contains("'text'"),
                e.getMessage());
    }
}
