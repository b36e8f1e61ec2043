package dev.peft4j.train.embedding;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The losses, the no-duplicates sampler and the evaluators against {@code embedding_reference.py}
 * (beside this test): sentence-transformers' code transcribed in NumPy and SciPy, on inputs both
 * sides compute from the same formulas.
 */
class EmbeddingReferenceTest {

    private static final int B = 6;
    private static final int H = 8;
    private static JsonObject reference;

    @BeforeAll
    static void read() throws Exception {
        try (InputStream in = EmbeddingReferenceTest.class.getResourceAsStream("reference.json")) {
            reference =
                    JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                            .getAsJsonObject();
        }
    }

    /** Column c's embeddings: sin(1.3 i + 0.7 j + 2.1 c) + 0.25 cos(0.9 i j + c), as float32. */
    static float[][] column(int c) {
        float[][] x = new float[B][H];
        for (int i = 0; i < B; i++) {
            for (int j = 0; j < H; j++) {
                x[i][j] =
                        (float)
                                (Math.sin(1.3 * i + 0.7 * j + 2.1 * c)
                                        + 0.25 * Math.cos(0.9 * i * j + c));
            }
        }
        return x;
    }

    /** ((3 i) mod 5) / 4 - 0.5, as float32. */
    static float[] gold() {
        float[] y = new float[B];
        for (int i = 0; i < B; i++) {
            y[i] = (float) (((3 * i) % 5) / 4.0 - 0.5);
        }
        return y;
    }

    @Test
    void lossesMatchSentenceTransformers() {
        Map<String, Loss> losses = new LinkedHashMap<>();
        Map<String, int[]> columns = new HashMap<>();
        losses.put("mnrl", new MultipleNegativesRankingLoss());
        columns.put("mnrl", new int[] {0, 1});
        losses.put("mnrl_hard_negative", new MultipleNegativesRankingLoss());
        columns.put("mnrl_hard_negative", new int[] {0, 1, 2});
        losses.put("mnrl_scale_5", new MultipleNegativesRankingLoss(5, false));
        columns.put("mnrl_scale_5", new int[] {0, 1});
        losses.put("mnsrl", new MultipleNegativesRankingLoss(20, true));
        columns.put("mnsrl", new int[] {0, 1});
        losses.put("mnsrl_hard_negative", new MultipleNegativesRankingLoss(20, true));
        columns.put("mnsrl_hard_negative", new int[] {0, 1, 2});
        losses.put("cosent", new CoSentLoss());
        columns.put("cosent", new int[] {3, 4});
        losses.put("cosine_similarity", new CosineSimilarityLoss());
        columns.put("cosine_similarity", new int[] {3, 4});
        losses.put("triplet_euclidean_5", new TripletLoss());
        columns.put("triplet_euclidean_5", new int[] {0, 1, 2});
        losses.put("triplet_euclidean_0_5", new TripletLoss(TripletLoss.Distance.EUCLIDEAN, 0.5));
        columns.put("triplet_euclidean_0_5", new int[] {0, 1, 2});
        losses.put("triplet_cosine_0_5", new TripletLoss(TripletLoss.Distance.COSINE, 0.5));
        columns.put("triplet_cosine_0_5", new int[] {0, 1, 2});
        JsonObject expected = reference.getAsJsonObject("losses");
        assertEquals(expected.keySet(), losses.keySet());
        try (NDManager m = NDManager.newBaseManager()) {
            NDList labels = new NDList(m.create(gold()));
            for (Map.Entry<String, Loss> e : losses.entrySet()) {
                NDList predictions = new NDList();
                for (int c : columns.get(e.getKey())) {
                    predictions.add(matrix(m, column(c)));
                }
                double value = e.getValue().evaluate(labels, predictions).getFloat();
                double want = expected.get(e.getKey()).getAsDouble();
                assertEquals(want, value, 1e-5 * Math.max(1, Math.abs(want)), e.getKey());
            }
        }
    }

    @Test
    void noDuplicatesBatchesAsSentenceTransformersBuildsThem() {
        JsonObject s = reference.getAsJsonObject("sampler");
        List<List<String>> rows = new ArrayList<>();
        for (JsonElement r : s.getAsJsonArray("rows")) {
            List<String> row = new ArrayList<>();
            r.getAsJsonArray().forEach(v -> row.add(v.getAsString()));
            rows.add(row);
        }
        JsonArray order = s.getAsJsonArray("order");
        int[] visit = new int[order.size()];
        for (int i = 0; i < visit.length; i++) {
            visit[i] = order.get(i).getAsInt();
        }
        assertEquals(
                s.get("batches_3").toString(),
                new NoDuplicatesBatchSampler(rows, 3, 0, false)
                        .batches(visit)
                        .toString()
                        .replace(" ", ""));
        assertEquals(
                s.get("batches_3_drop_last").toString(),
                new NoDuplicatesBatchSampler(rows, 3, 0, true)
                        .batches(visit)
                        .toString()
                        .replace(" ", ""));
    }

    @Test
    void similarityCorrelationsMatchScipy() {
        float[][] u = column(3);
        float[][] v = column(4);
        float[] y = gold();
        double[] g = new double[y.length];
        for (int i = 0; i < y.length; i++) {
            g[i] = y[i];
        }
        Map<String, Double> got = SimilarityEvaluator.evaluate(u, v, g);
        JsonObject want = reference.getAsJsonObject("similarity");
        for (String k : want.keySet()) {
            assertEquals(want.get(k).getAsDouble(), got.get(k), 1e-6, k);
        }
    }

    @Test
    void retrievalMetricsMatchTheEvaluator() {
        float[][] docs = new float[12][];
        List<String> docIds = new ArrayList<>();
        for (int d = 0; d < 12; d++) {
            docs[d] =
                    new float[] {
                        (float) Math.cos(0.5 * d + 0.13), (float) Math.sin(0.5 * d + 0.13)
                    };
            docIds.add("d" + d);
        }
        float[][] queries = new float[5][];
        List<String> queryIds = new ArrayList<>();
        Map<String, Set<String>> relevant = new HashMap<>();
        for (int q = 0; q < 5; q++) {
            queries[q] =
                    new float[] {
                        (float) Math.cos(1.1 * q + 0.02), (float) Math.sin(1.1 * q + 0.02)
                    };
            queryIds.add("q" + q);
            relevant.put(
                    "q" + q,
                    q == 3 ? Set.of("d7") : Set.of("d" + ((2 * q + 1) % 12), "d" + ((5 * q) % 12)));
        }
        relevant.put("unjudged", Set.of("d1")); // a judged id that is not a query changes nothing
        Map<String, Double> got;
        try (NDManager m = NDManager.newBaseManager()) {
            got = RetrievalEvaluator.evaluate(queryIds, queries, docIds, docs, relevant, m);
        }
        JsonObject want = reference.getAsJsonObject("retrieval");
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            assertEquals(want.get(k).getAsDouble(), got.get(k), 1e-12, k);
        }
    }

    private static NDArray matrix(NDManager m, float[][] rows) {
        float[] flat = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * rows[0].length, rows[0].length);
        }
        return m.create(flat, new Shape(rows.length, rows[0].length));
    }
}
