package dev.peft4j.train.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Information-retrieval metrics as sentence-transformers' {@code InformationRetrievalEvaluator}
 * reports them (InformationRetrievalEvaluator.py, {@code compute_metrices} and {@code
 * compute_metrics}): every query is scored against the whole corpus by cosine similarity (exact,
 * brute force, on the embeddings' device in chunks), the top {@code max k} documents are ranked
 * by score, and
 *
 * <ul>
 *   <li>{@code accuracy@k}: the fraction of queries with a relevant document in the top k;
 *   <li>{@code precision@k} and {@code recall@k}: relevant documents in the top k over k, and over
 *       the query's relevant documents, averaged over queries;
 *   <li>{@code mrr@k}: the mean of {@code 1 / rank} of the first relevant document in the top k;
 *   <li>{@code ndcg@k}: {@code DCG@k / IDCG@k} with binary relevance and {@code 1 / log2(rank +
 *       1)} discounts;
 *   <li>{@code map@k}: average precision in the top k, normalized by {@code min(k, relevant)}.
 * </ul>
 *
 * <p>k is 1, 3, 5, 10 for accuracy, precision and recall, 10 for MRR and nDCG, 100 for MAP, as
 * sentence-transformers' defaults. Queries without relevant documents are left out, as there.
 * Equal scores are ranked in corpus order (sentence-transformers' heap breaks ties by corpus id).
 */
public final class RetrievalEvaluator {

    private static final int[] ACCURACY_PRECISION_RECALL = {1, 3, 5, 10};
    private static final int MRR = 10;
    private static final int NDCG = 10;
    private static final int MAP = 100;
    private static final int CHUNK = 4096;

    private RetrievalEvaluator() {}

    /**
     * Ranks the corpus for every query with a relevant document and computes the metrics.
     *
     * @param queryIds the queries' ids, in order of {@code queryEmbeddings}
     * @param queryEmbeddings their embeddings
     * @param corpusIds the documents' ids, in order of {@code corpusEmbeddings}
     * @param corpusEmbeddings their embeddings
     * @param relevant the relevant document ids of each query id
     * @param manager where the similarities are computed (its device)
     * @return metric name ({@code ndcg@10}, ...) to value, in a fixed order
     */
    public static Map<String, Double> evaluate(
            List<String> queryIds,
            float[][] queryEmbeddings,
            List<String> corpusIds,
            float[][] corpusEmbeddings,
            Map<String, Set<String>> relevant,
            NDManager manager) {
        int maxK = Math.min(MAP, corpusIds.size());
        List<List<String>> rankings = new ArrayList<>();
        List<Set<String>> judged = new ArrayList<>();
        List<Integer> kept = new ArrayList<>();
        for (int q = 0; q < queryIds.size(); q++) {
            Set<String> r = relevant.get(queryIds.get(q));
            if (r != null && !r.isEmpty()) {
                kept.add(q);
                judged.add(r);
            }
        }
        if (kept.isEmpty()) {
            throw new IllegalArgumentException("No query has a relevant document");
        }
        try (NDManager scope = manager.newSubManager()) {
            NDArray corpus = normalizedRows(scope, corpusEmbeddings);
            for (int from = 0; from < kept.size(); from += CHUNK) {
                int to = Math.min(kept.size(), from + CHUNK);
                float[][] chunk = new float[to - from][];
                for (int i = from; i < to; i++) {
                    chunk[i - from] = queryEmbeddings[kept.get(i)];
                }
                try (NDManager step = scope.newSubManager()) {
                    NDArray scores = normalizedRows(step, chunk).matMul(corpus.transpose());
                    float[] flat = scores.toFloatArray();
                    int n = corpusIds.size();
                    for (int i = 0; i < chunk.length; i++) {
                        rankings.add(top(flat, i * n, n, maxK, corpusIds));
                    }
                }
            }
        }
        return metrics(rankings, judged);
    }

    /** The ids of the {@code k} best documents of one query's scores, best first. */
    private static List<String> top(float[] scores, int offset, int n, int k, List<String> ids) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        order.sort(
                Comparator.comparingDouble((Integer i) -> -scores[offset + i])
                        .thenComparingInt(i -> i));
        List<String> out = new ArrayList<>(k);
        for (int i = 0; i < k; i++) {
            out.add(ids.get(order.get(i)));
        }
        return out;
    }

    private static NDArray normalizedRows(NDManager manager, float[][] rows) {
        int h = rows[0].length;
        float[] flat = new float[rows.length * h];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * h, h);
        }
        return SentenceEncoder.l2Normalize(manager.create(flat, new Shape(rows.length, h)));
    }

    /**
     * The metrics of ranked results: {@code rankings.get(q)} are query q's document ids, best
     * first (at least 100, or the whole corpus), {@code relevant.get(q)} its relevant ids.
     */
    public static Map<String, Double> metrics(
            List<List<String>> rankings, List<Set<String>> relevant) {
        int queries = rankings.size();
        Map<String, Double> out = new LinkedHashMap<>();
        for (int k : ACCURACY_PRECISION_RECALL) {
            double hits = 0;
            for (int q = 0; q < queries; q++) {
                if (correct(rankings.get(q), relevant.get(q), k) > 0) {
                    hits++;
                }
            }
            out.put("accuracy@" + k, hits / queries);
        }
        for (int k : ACCURACY_PRECISION_RECALL) {
            double sum = 0;
            for (int q = 0; q < queries; q++) {
                sum += correct(rankings.get(q), relevant.get(q), k) / (double) k;
            }
            out.put("precision@" + k, sum / queries);
        }
        for (int k : ACCURACY_PRECISION_RECALL) {
            double sum = 0;
            for (int q = 0; q < queries; q++) {
                sum +=
                        correct(rankings.get(q), relevant.get(q), k)
                                / (double) relevant.get(q).size();
            }
            out.put("recall@" + k, sum / queries);
        }
        double mrr = 0;
        double ndcg = 0;
        double map = 0;
        for (int q = 0; q < queries; q++) {
            List<String> hits = rankings.get(q);
            Set<String> rel = relevant.get(q);
            for (int rank = 0; rank < Math.min(MRR, hits.size()); rank++) {
                if (rel.contains(hits.get(rank))) {
                    mrr += 1.0 / (rank + 1);
                    break;
                }
            }
            double dcg = 0;
            for (int rank = 0; rank < Math.min(NDCG, hits.size()); rank++) {
                dcg += (rel.contains(hits.get(rank)) ? 1 : 0) / log2(rank + 2);
            }
            double idcg = 0;
            for (int rank = 0; rank < Math.min(NDCG, rel.size()); rank++) {
                idcg += 1 / log2(rank + 2);
            }
            ndcg += dcg / idcg;
            int found = 0;
            double precisions = 0;
            for (int rank = 0; rank < Math.min(MAP, hits.size()); rank++) {
                if (rel.contains(hits.get(rank))) {
                    found++;
                    precisions += found / (double) (rank + 1);
                }
            }
            map += precisions / Math.min(MAP, rel.size());
        }
        out.put("mrr@" + MRR, mrr / queries);
        out.put("ndcg@" + NDCG, ndcg / queries);
        out.put("map@" + MAP, map / queries);
        return out;
    }

    private static int correct(List<String> hits, Set<String> relevant, int k) {
        int n = 0;
        for (int i = 0; i < Math.min(k, hits.size()); i++) {
            if (relevant.contains(hits.get(i))) {
                n++;
            }
        }
        return n;
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
