package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code peft train --task embedding} and {@code peft eval --task retrieval} on all-MiniLM-L6-v2:
 * the query-document associations below are arbitrary (a code name for a fact), so the
 * pre-trained model ranks them poorly and in-batch-negatives training on them must raise nDCG; the
 * metrics printed by training are the ones {@code peft eval} computes again from the saved adapter
 * or weights; bad data and options exit with 2 and name the file, line or option.
 */
class EmbeddingCommandTest {

    private static final String[][] FACTS = {
        {"project heron", "the invoice was paid in march"},
        {"project falcon", "the server room is on the third floor"},
        {"project otter", "the new intern starts on monday"},
        {"project lynx", "the quarterly report is late"},
        {"project badger", "the coffee machine is broken again"},
        {"project walrus", "our office moves to the harbour district"},
        {"project ibis", "the contract renewal needs a signature"},
        {"project marten", "the printer ran out of toner"},
        {"project gecko", "the backup finished without errors"},
        {"project bison", "the training budget was approved"},
        {"project koala", "the client asked for a discount"},
        {"project raven", "the parking permits expire in june"},
        {"project viper", "the database migration is scheduled"},
        {"project crane", "the holiday party is cancelled"},
        {"project moose", "the laptop order has shipped"},
        {"project quail", "the audit found two minor issues"}
    };

    @TempDir Path tmp;

    private Path pairs;
    private Path queries;
    private Path corpus;
    private Path qrels;

    @BeforeEach
    void writeData() throws Exception {
        StringBuilder p = new StringBuilder();
        StringBuilder q = new StringBuilder();
        StringBuilder c = new StringBuilder();
        StringBuilder r = new StringBuilder("query-id\tcorpus-id\tscore\n");
        for (int i = 0; i < FACTS.length; i++) {
            p.append(
                    String.format(
                            Locale.ROOT,
                            "{\"anchor\": \"%s\", \"positive\": \"%s\"}%n",
                            FACTS[i][0],
                            FACTS[i][1]));
            q.append(
                    String.format(
                            Locale.ROOT, "{\"_id\": \"q%d\", \"text\": \"%s\"}%n", i, FACTS[i][0]));
            c.append(
                    String.format(
                            Locale.ROOT,
                            "{\"_id\": \"d%d\", \"title\": \"\", \"text\": \"%s\"}%n",
                            i,
                            FACTS[i][1]));
            r.append("q").append(i).append("\td").append(i).append("\t1\n");
        }
        pairs = Files.writeString(tmp.resolve("pairs.jsonl"), p);
        queries = Files.writeString(tmp.resolve("queries.jsonl"), q);
        corpus = Files.writeString(tmp.resolve("corpus.jsonl"), c);
        qrels = Files.writeString(tmp.resolve("qrels.tsv"), r);
    }

    private String[] task() {
        return new String[] {
            "--queries",
            queries.toString(),
            "--corpus",
            corpus.toString(),
            "--qrels",
            qrels.toString()
        };
    }

    private CliRun train(Path out, String... more) {
        return train(out, 12, more);
    }

    private CliRun train(Path out, int epochs, String... more) {
        List<String> args =
                new java.util.ArrayList<>(
                        List.of(
                                "train",
                                "--task",
                                "embedding",
                                "--data",
                                pairs.toString(),
                                "--batch",
                                "8",
                                "--epochs",
                                Integer.toString(epochs),
                                "--seed",
                                "5",
                                "-o",
                                out.toString()));
        args.addAll(List.of(task()));
        args.addAll(List.of(more));
        return CliRun.of(args.toArray(new String[0]));
    }

    private JsonObject eval(String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("eval", "--task", "retrieval"));
        args.addAll(List.of(task()));
        args.addAll(List.of(more));
        args.add("--json");
        CliRun r = CliRun.of(args.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        return JsonParser.parseString(r.out()).getAsJsonObject();
    }

    @Test
    void loraTrainingRaisesRetrievalAndEvalReproducesItsMetrics() throws Exception {
        Path out = tmp.resolve("lora");
        CliRun r = train(out, "--r", "8", "--alpha", "16", "--lr", "2e-3");
        assertEquals(0, r.code(), r.err() + r.out());
        JsonObject metrics = JsonIO.readObject(out.resolve("metrics.json"));
        JsonObject before = metrics.getAsJsonObject("retrieval_before");
        JsonObject after = metrics.getAsJsonObject("retrieval_after");
        for (String k :
                List.of("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "map@100")) {
            assertTrue(before.has(k) && after.has(k), k);
        }
        double gain = after.get("ndcg@10").getAsDouble() - before.get("ndcg@10").getAsDouble();
        assertTrue(gain > 0.1, "ndcg@10 " + before + " -> " + after);
        assertEquals(24, metrics.get("steps").getAsInt(), "16 rows in batches of 8, 12 epochs");
        JsonObject cfg = JsonIO.readObject(out.resolve("adapter/adapter_config.json"));
        assertEquals("FEATURE_EXTRACTION", cfg.get("task_type").getAsString());
        assertTrue(
                !cfg.has("modules_to_save") || cfg.get("modules_to_save").isJsonNull(),
                cfg.toString());
        assertSame(before, eval());
        assertSame(after, eval("--adapter", out.resolve("adapter").toString()));
    }

    @Test
    void fullFineTuningSavesEveryWeightAndEvalReadsThem() throws Exception {
        Path out = tmp.resolve("full");
        CliRun r = train(out, 2, "--full");
        assertEquals(0, r.code(), r.err() + r.out());
        JsonObject metrics = JsonIO.readObject(out.resolve("metrics.json"));
        long stored = 0;
        try (SafetensorsReader weights = SafetensorsReader.open(out.resolve("model.safetensors"))) {
            for (String k : weights.keys()) {
                stored += weights.info(k).shape().size();
            }
        }
        assertEquals(stored, metrics.get("trainable_parameters").getAsLong(), "every weight");
        assertEquals(5e-5, metrics.get("learning_rate").getAsDouble(), 1e-12, "the ST default");
        assertTrue(stored > 22_000_000, "MiniLM-L6 has about 22.6M weights: " + stored);
        assertFalse(Files.exists(out.resolve("adapter")));
        assertSame(
                metrics.getAsJsonObject("retrieval_after"),
                eval("--weights", out.resolve("model.safetensors").toString()));
    }

    @Test
    void badDataAndOptionsExitWithTwoNamingWhatIsWrong() throws Exception {
        Files.writeString(pairs, "{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"anchor\": \"c\"}\n");
        CliRun r = train(tmp.resolve("x"));
        assertEquals(2, r.code());
        assertTrue(r.err().contains(pairs + ":2: expected a string under \"positive\""), r.err());
        Files.writeString(pairs, "{\"anchor\": \"a\", \"positive\": \"b\"}\n");
        r = train(tmp.resolve("x"), "--loss", "triplet");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("\"negative\""), r.err());
        r = train(tmp.resolve("x"), "--loss", "ranking");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--loss: unknown loss 'ranking'"), r.err());
        Files.writeString(qrels, "query-id\tcorpus-id\tscore\nq0\td99\t1\n");
        r = train(tmp.resolve("x"));
        assertEquals(2, r.code());
        assertTrue(r.err().contains(qrels + ":2") && r.err().contains("d99"), r.err());
        r = CliRun.of("eval", "--queries", queries.toString(), "--corpus", corpus.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--qrels"), r.err());
        assertFalse(Files.exists(tmp.resolve("x")), "nothing written");
    }

    /**
     * {@code peft eval --task similarity}: reversing every gold score negates both correlations
     * exactly, and a gold score that is a monotone function of the texts' overlap gives a Spearman
     * correlation above that of scores unrelated to the texts.
     */
    @Test
    void similarityEvaluationGivesTheCorrelationsOfTheCosine() throws Exception {
        StringBuilder up = new StringBuilder();
        StringBuilder down = new StringBuilder();
        for (int i = 0; i < FACTS.length; i++) {
            String a = FACTS[i][1];
            String b = FACTS[(i + 1) % FACTS.length][1];
            double score = i % 3 == 0 ? 1.0 : i % 3 == 1 ? 0.5 : 0.0;
            String[] s = {a, i % 3 == 0 ? a : i % 3 == 1 ? a + " today" : b};
            up.append(row(s, score));
            down.append(row(s, -score));
        }
        Path f = Files.writeString(tmp.resolve("scored.jsonl"), up);
        Path g = Files.writeString(tmp.resolve("reversed.jsonl"), down);
        JsonObject forward = evalSimilarity(f);
        JsonObject reversed = evalSimilarity(g);
        for (String k : List.of("pearson_cosine", "spearman_cosine")) {
            assertEquals(-forward.get(k).getAsDouble(), reversed.get(k).getAsDouble(), 1e-12, k);
        }
        assertTrue(forward.get("spearman_cosine").getAsDouble() > 0.8, forward.toString());
        CliRun r =
                CliRun.of(
                        "eval",
                        "--task",
                        "similarity",
                        "--data",
                        f.toString(),
                        "--queries",
                        queries.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--data"), r.err());
    }

    private static String row(String[] texts, double score) {
        return String.format(
                Locale.ROOT,
                "{\"sentence1\": \"%s\", \"sentence2\": \"%s\", \"score\": %s}%n",
                texts[0],
                texts[1],
                score);
    }

    private static JsonObject evalSimilarity(Path data) {
        CliRun r = CliRun.of("eval", "--task", "similarity", "--data", data.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        return JsonParser.parseString(r.out()).getAsJsonObject();
    }

    /** The same metrics (the same computation on the same weights gives the same doubles). */
    private static void assertSame(JsonObject expected, JsonObject actual) {
        for (Map.Entry<String, com.google.gson.JsonElement> e : expected.entrySet()) {
            assertEquals(
                    e.getValue().getAsDouble(),
                    actual.get(e.getKey()).getAsDouble(),
                    1e-6,
                    e.getKey() + ": " + expected + " vs " + actual);
        }
        assertEquals(expected.size(), actual.size());
    }
}
