package dev.peft4j.examples.data;

import com.google.gson.JsonObject;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.train.embedding.EmbeddingExample;
import dev.peft4j.train.embedding.RetrievalData;
import dev.peft4j.train.text.Splits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Retrieval tasks built from the real corpora the examples fetch, split by document so that no
 * test document (nor its query) is seen in training:
 *
 * <ul>
 *   <li>{@link #spamAssassin}: each message's Subject line is a query and its body the one
 *       relevant document; the corpus is every body of the test messages. Subjects that occur more
 *       than once (threads, repeated spam) are dropped, so that every query has one answer.
 *   <li>{@link #stateOfTheUnion}: each 80-word chunk of an address gives a query, one of its
 *       sentences of 8 words or more chosen at random, and a document, the chunk with that
 *       sentence removed; addresses, not chunks, are split between training and test.
 * </ul>
 */
public final class RetrievalTasks {

    /**
     * A task: training pairs (query, document) and the test retrieval task.
     *
     * @param name the task's name
     * @param train anchor-positive pairs from the training documents
     * @param test queries, corpus and judgements from the test documents
     */
    public record Task(String name, List<EmbeddingExample> train, RetrievalData test) {}

    private static final double TEST_FRACTION = 0.2;
    private static final int MIN_QUERY_WORDS = 8;

    private RetrievalTasks() {}

    /**
     * SpamAssassin, every group: Subject to body.
     *
     * @param root the dataset folder
     * @param seed the seed of the split and the samples
     * @param maxTrain the most training pairs (a seeded sample)
     * @param maxQueries the most test queries (a seeded sample; the corpus keeps every test body)
     * @return the task
     */
    public static Task spamAssassin(Path root, long seed, int maxTrain, int maxQueries) {
        Map<String, Integer> subjectCount = new HashMap<>();
        List<EmailText.Message> messages = new ArrayList<>();
        Set<String> bodies = new LinkedHashSet<>();
        for (String group : List.of("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")) {
            Path folder = root.resolve("data").resolve(group);
            for (Path file : JsonFiles.list(folder, "SpamAssassin " + group)) {
                String raw = JsonFiles.readObject(file, "text").get("text").getAsString();
                EmailText.Message m = EmailText.message(raw);
                if (m.subject().split(" ").length >= 2
                        && m.body().split(" ").length >= 20
                        && bodies.add(m.body())) {
                    messages.add(m);
                    subjectCount.merge(key(m.subject()), 1, Integer::sum);
                }
            }
        }
        List<String[]> docs = new ArrayList<>();
        for (EmailText.Message m : messages) {
            if (subjectCount.get(key(m.subject())) == 1) {
                docs.add(new String[] {m.subject(), m.body()});
            }
        }
        return split("spam-assassin", docs, seed, maxTrain, maxQueries);
    }

    /**
     * The State of the Union: a sentence to the rest of its chunk.
     *
     * @param root the dataset folder
     * @param seed the seed of the split, the sentence choice and the samples
     * @param maxTrain the most training pairs (a seeded sample)
     * @param maxQueries the most test queries (a seeded sample)
     * @param maxCorpus the most test documents: the queries' own and a seeded sample of the rest
     * @return the task
     */
    public static Task stateOfTheUnion(
            Path root, long seed, int maxTrain, int maxQueries, int maxCorpus) {
        List<StateOfTheUnion.Address> addresses =
                Splits.shuffled(StateOfTheUnion.loadAddresses(root), new Random(seed));
        int test = (int) Math.round(addresses.size() * TEST_FRACTION);
        Random pick = new Random(seed + 1);
        List<String[]> trainDocs = sentencePairs(addresses.subList(test, addresses.size()), pick);
        List<String[]> testDocs = sentencePairs(addresses.subList(0, test), pick);
        List<String[]> queries =
                Splits.shuffled(testDocs, new Random(seed + 2))
                        .subList(0, Math.min(maxQueries, testDocs.size()));
        List<String[]> corpus = new ArrayList<>(queries);
        for (String[] d : Splits.shuffled(testDocs, new Random(seed + 3))) {
            if (corpus.size() >= Math.max(maxCorpus, queries.size())) {
                break;
            }
            if (!queries.contains(d)) {
                corpus.add(d);
            }
        }
        return new Task(
                "sotu",
                pairs(trainDocs, seed, maxTrain),
                retrieval(queries, Splits.shuffled(corpus, new Random(seed + 4))));
    }

    /** One (sentence, rest of the chunk) per chunk with 3 or more sentences. */
    private static List<String[]> sentencePairs(
            List<StateOfTheUnion.Address> addresses, Random pick) {
        List<String[]> out = new ArrayList<>();
        for (StateOfTheUnion.Address a : addresses) {
            for (String chunk :
                    StateOfTheUnion.chunks(a.text(), StateOfTheUnion.DEFAULT_CHUNK_WORDS)) {
                List<String> sentences = StateOfTheUnion.sentences(chunk);
                List<Integer> candidates = new ArrayList<>();
                for (int i = 0; i < sentences.size(); i++) {
                    if (sentences.get(i).split(" ").length >= MIN_QUERY_WORDS) {
                        candidates.add(i);
                    }
                }
                if (sentences.size() < 3 || candidates.isEmpty()) {
                    continue;
                }
                int q = candidates.get(pick.nextInt(candidates.size()));
                List<String> rest = new ArrayList<>(sentences);
                String query = rest.remove(q);
                out.add(new String[] {query, String.join(" ", rest)});
            }
        }
        return out;
    }

    /** Splits (query, document) pairs 80/20 by document. */
    private static Task split(
            String name, List<String[]> docs, long seed, int maxTrain, int maxQueries) {
        List<String[]> shuffled = Splits.shuffled(docs, new Random(seed));
        int test = (int) Math.round(shuffled.size() * TEST_FRACTION);
        List<String[]> testDocs = shuffled.subList(0, test);
        List<String[]> queries = testDocs.subList(0, Math.min(maxQueries, testDocs.size()));
        return new Task(
                name,
                pairs(shuffled.subList(test, shuffled.size()), seed, maxTrain),
                retrieval(queries, Splits.shuffled(testDocs, new Random(seed + 4))));
    }

    private static List<EmbeddingExample> pairs(List<String[]> docs, long seed, int max) {
        List<EmbeddingExample> out = new ArrayList<>();
        for (String[] d : Splits.shuffled(docs, new Random(seed + 5))) {
            if (out.size() == max) {
                break;
            }
            out.add(EmbeddingExample.of(d[0], d[1]));
        }
        return out;
    }

    /** Queries q0..; the corpus d0.. in the given order; each query's own document relevant. */
    private static RetrievalData retrieval(List<String[]> queries, List<String[]> corpus) {
        Map<String[], String> docIds = new LinkedHashMap<>();
        List<String> corpusIds = new ArrayList<>();
        List<String> corpusTexts = new ArrayList<>();
        for (String[] d : corpus) {
            String id = "d" + corpusIds.size();
            docIds.put(d, id);
            corpusIds.add(id);
            corpusTexts.add(d[1]);
        }
        List<String> queryIds = new ArrayList<>();
        List<String> queryTexts = new ArrayList<>();
        Map<String, Set<String>> relevant = new LinkedHashMap<>();
        for (String[] q : queries) {
            String id = "q" + queryIds.size();
            queryIds.add(id);
            queryTexts.add(q[0]);
            relevant.put(id, Set.of(docIds.get(q)));
        }
        return new RetrievalData(queryIds, queryTexts, corpusIds, corpusTexts, relevant);
    }

    private static String key(String subject) {
        return subject.toLowerCase(Locale.ROOT).strip();
    }

    /**
     * Writes a task in the layout {@code peft train --task embedding} and {@code peft eval} read:
     * {@code train.jsonl} (anchor, positive), {@code queries.jsonl}, {@code corpus.jsonl} and
     * {@code qrels.tsv}.
     *
     * @param task the task
     * @param dir the folder
     * @throws IOException if a file cannot be written
     */
    public static void write(Task task, Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder train = new StringBuilder();
        for (EmbeddingExample e : task.train()) {
            JsonObject o = new JsonObject();
            o.addProperty("anchor", e.texts().get(0));
            o.addProperty("positive", e.texts().get(1));
            train.append(o).append('\n');
        }
        RetrievalData t = task.test();
        StringBuilder queries = new StringBuilder();
        for (int i = 0; i < t.queryIds().size(); i++) {
            JsonObject o = new JsonObject();
            o.addProperty("_id", t.queryIds().get(i));
            o.addProperty("text", t.queries().get(i));
            queries.append(o).append('\n');
        }
        StringBuilder corpus = new StringBuilder();
        for (int i = 0; i < t.corpusIds().size(); i++) {
            JsonObject o = new JsonObject();
            o.addProperty("_id", t.corpusIds().get(i));
            o.addProperty("title", "");
            o.addProperty("text", t.corpus().get(i));
            corpus.append(o).append('\n');
        }
        StringBuilder qrels = new StringBuilder("query-id\tcorpus-id\tscore\n");
        t.relevant().forEach((q, docs) -> docs.forEach(d -> qrels.append(q + "\t" + d + "\t1\n")));
        write(dir.resolve("train.jsonl"), train);
        write(dir.resolve("queries.jsonl"), queries);
        write(dir.resolve("corpus.jsonl"), corpus);
        write(dir.resolve("qrels.tsv"), qrels);
    }

    private static void write(Path file, CharSequence text) throws IOException {
        AtomicFiles.writeBytes(file, text.toString().getBytes(StandardCharsets.UTF_8));
    }
}
