package dev.peft4j.examples.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import dev.peft4j.train.embedding.EmbeddingExample;
import dev.peft4j.train.embedding.RetrievalData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The retrieval tasks are split by document: no test document, query or address is in training;
 * every query's one relevant document is in the corpus; the State of the Union query sentence is
 * removed from its document; SpamAssassin subjects that repeat are dropped; the same seed gives
 * the same task and the files read back as the same task.
 */
class RetrievalTasksTest {

    private static final Pattern ADDRESS = Pattern.compile("address (\\d+)");

    @TempDir Path root;

    private void address(int k) throws IOException {
        List<String> sentences = new ArrayList<>();
        for (int j = 0; j < 40; j++) {
            sentences.add("Sentence " + j + " of address " + k + " has some more words here.");
        }
        JsonObject o = new JsonObject();
        o.addProperty("year", 1900 + k);
        o.addProperty("name", "President " + k);
        o.addProperty("party", "Whig");
        o.addProperty("text", String.join(" ", sentences));
        Path dir = Files.createDirectories(root.resolve("data"));
        Files.writeString(dir.resolve((1900 + k) + "_p" + k + "_W.json"), o.toString());
    }

    private void message(String group, int id, String subject, String body) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("text", "From: x@example.com\nSubject: " + subject + "\n\n" + body + "\n");
        Path dir = Files.createDirectories(root.resolve("data").resolve(group));
        Files.writeString(dir.resolve(String.format("%05d.abc.json", id)), o.toString());
    }

    @Test
    void stateOfTheUnionIsSplitByAddressAndTheQueryLeavesItsChunk() throws Exception {
        for (int k = 0; k < 10; k++) {
            address(k);
        }
        RetrievalTasks.Task t = RetrievalTasks.stateOfTheUnion(root, 3, 1000, 1000, 1000);
        Set<String> trainAddresses = new HashSet<>();
        for (EmbeddingExample e : t.train()) {
            String a = address(e.texts().get(0));
            assertEquals(a, address(e.texts().get(1)), "one address per pair");
            assertFalse(e.texts().get(1).contains(e.texts().get(0)), "query left its chunk");
            trainAddresses.add(a);
        }
        RetrievalData test = t.test();
        Set<String> testAddresses = new HashSet<>();
        test.corpus().forEach(d -> testAddresses.add(address(d)));
        assertEquals(2, testAddresses.size(), "20% of 10 addresses");
        assertEquals(8, trainAddresses.size());
        assertTrue(testAddresses.stream().noneMatch(trainAddresses::contains));
        checkQueries(test);
        for (int i = 0; i < test.queryIds().size(); i++) {
            String q = test.queries().get(i);
            String doc = doc(test, test.relevant().get(test.queryIds().get(i)).iterator().next());
            assertEquals(address(q), address(doc));
            assertFalse(doc.contains(q));
            // the chunk is the document with the query back: 80 words or fewer, whole sentences
            int words = (q + " " + doc).split(" ").length;
            assertTrue(words <= 80 && words % 10 == 0, words + " words");
        }
        RetrievalTasks.Task again = RetrievalTasks.stateOfTheUnion(root, 3, 1000, 1000, 1000);
        assertEquals(t.test(), again.test());
        assertEquals(t.train(), again.train());
        Path dir = root.resolve("files");
        RetrievalTasks.write(t, dir);
        RetrievalData back =
                RetrievalData.read(
                        dir.resolve("queries.jsonl"),
                        dir.resolve("corpus.jsonl"),
                        dir.resolve("qrels.tsv"));
        assertEquals(t.test(), back);
    }

    @Test
    void spamAssassinKeepsOneAnswerPerSubjectAndNoTestBodyInTraining() throws Exception {
        String filler =
                " with words enough to be a real body of some twenty words or more in it, really";
        int id = 0;
        for (String group : List.of("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")) {
            for (int i = 0; i < 10; i++) {
                message(group, id, "subject number " + id, "body number " + id + filler);
                id++;
            }
        }
        message("spam-2", id++, "subject number 3", "another body for three" + filler);
        message("spam-2", id++, "x", "a one-word subject" + filler);
        message("spam-2", id, "a subject", "too short");
        RetrievalTasks.Task t = RetrievalTasks.spamAssassin(root, 5, 1000, 1000);
        Set<String> trainBodies = new HashSet<>();
        for (EmbeddingExample e : t.train()) {
            trainBodies.add(e.texts().get(1));
            assertFalse(e.texts().get(0).equals("subject number 3"), "a repeated subject: " + e);
        }
        RetrievalData test = t.test();
        assertEquals(49, t.train().size() + test.corpus().size(), "50 less the repeated subject");
        assertEquals(10, test.corpus().size());
        assertTrue(test.corpus().stream().noneMatch(trainBodies::contains));
        checkQueries(test);
        for (int i = 0; i < test.queryIds().size(); i++) {
            String n = test.queries().get(i).substring("subject number ".length());
            String doc = doc(test, test.relevant().get(test.queryIds().get(i)).iterator().next());
            assertTrue(doc.startsWith("body number " + n + " "), doc);
        }
    }

    private static void checkQueries(RetrievalData test) {
        assertEquals(test.queryIds().size(), test.relevant().size());
        for (String q : test.queryIds()) {
            assertEquals(1, test.relevant().get(q).size());
            assertTrue(test.corpusIds().containsAll(test.relevant().get(q)));
        }
    }

    private static String doc(RetrievalData t, String id) {
        return t.corpus().get(t.corpusIds().indexOf(id));
    }

    private static String address(String text) {
        Matcher m = ADDRESS.matcher(text);
        assertTrue(m.find(), text);
        return m.group(1);
    }
}
