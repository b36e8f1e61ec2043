package dev.peft4j.cli;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.training.loss.Loss;
import com.google.gson.JsonObject;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.CoSentLoss;
import dev.peft4j.train.embedding.CosineSimilarityLoss;
import dev.peft4j.train.embedding.EmbeddingData;
import dev.peft4j.train.embedding.EmbeddingExample;
import dev.peft4j.train.embedding.EmbeddingRun;
import dev.peft4j.train.embedding.MultipleNegativesRankingLoss;
import dev.peft4j.train.embedding.RetrievalData;
import dev.peft4j.train.embedding.TripletLoss;
import dev.peft4j.train.text.FineTuneRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code peft train --task embedding}: contrastive fine-tuning of the pre-trained sentence encoder
 * ({@link EmbeddingRun}) with its own pooling and normalization, with an adapter or ({@code
 * --full}) every weight; with {@code --queries/--corpus/--qrels}, retrieval metrics before and
 * after. Writes {@code OUT/adapter} (or {@code OUT/model.safetensors}) and {@code
 * OUT/metrics.json}.
 */
final class EmbeddingTraining {

    /**
     * Adam's rate for {@code --full} without {@code --lr}: sentence-transformers' trainer default
     * (its training arguments inherit transformers' {@code learning_rate} 5e-5).
     */
    static final float FULL_LEARNING_RATE = 5e-5f;

    private EmbeddingTraining() {}

    static int run(TrainCommand c) throws Exception {
        PretrainedEncoder encoder = TrainCommand.encoder(c.model);
        if (c.pooling != null || c.validation != null || c.test != null) {
            throw new IllegalArgumentException(
                    "--pooling, --validation and --test are classification options; an embedding"
                            + " model keeps "
                            + c.model
                            + "'s pooling and is evaluated with --queries/--corpus/--qrels");
        }
        if (c.training.resumeOrCheckpoints()) {
            throw new IllegalArgumentException(
                    "--checkpoint-every and --resume are not available for --task embedding yet");
        }
        RetrievalData task = retrieval(c);
        boolean scored = c.loss.equals("cosent") || c.loss.equals("cosine");
        List<EmbeddingExample> rows =
                scored
                        ? EmbeddingData.readScored(
                                c.train,
                                c.loss.equals("cosine") ? -1 : Double.NEGATIVE_INFINITY,
                                c.loss.equals("cosine") ? 1 : Double.POSITIVE_INFINITY)
                        : EmbeddingData.readPairs(c.train);
        int columns = rows.get(0).texts().size();
        if (c.loss.equals("triplet") && columns != 3) {
            throw new IllegalArgumentException(
                    c.train + ": --loss triplet needs a \"negative\" on every row");
        }
        AdapterConfig adapter =
                c.full ? null : c.adapterConfig(List.of(), EmbeddingRun.FEATURE_EXTRACTION);
        // --lr when given, else the method's rate (or the full fine-tuning default)
        FineTuneRun.Settings s =
                c.training.settings(
                        c.full ? FULL_LEARNING_RATE : adapter.recommendedLearningRate());
        EmbeddingRun.Spec spec =
                new EmbeddingRun.Spec(adapter, loss(c.loss), encoder.pooling(), !scored, s);
        System.out.printf(
                Locale.ROOT,
                "%s + %s, loss %s: %d rows of %d texts%s%n",
                c.model,
                c.full ? "full fine-tuning" : adapter.peftType(),
                c.loss,
                rows.size(),
                columns,
                task == null ? "" : ", retrieval on " + task.queryIds().size() + " queries");
        EmbeddingRun.Result r;
        try (HuggingFaceTokenizer tokenizer = encoder.tokenizer(c.maxLength)) {
            r =
                    EmbeddingRun.run(
                            c.model,
                            m -> encoder.load(m, encoder.weights()),
                            encoder.config().hiddenSize(),
                            rows,
                            tokenizer,
                            spec,
                            task,
                            c.out);
        }
        JsonObject o = new JsonObject();
        o.addProperty("model", c.model);
        o.addProperty("loss", c.loss);
        o.addProperty("steps", r.losses().size());
        o.addProperty("learning_rate", s.learningRate());
        o.addProperty("trainable_parameters", r.trainable());
        o.addProperty("seconds", r.seconds());
        o.add("retrieval_before", metrics(r.before()));
        o.add("retrieval_after", metrics(r.after()));
        Files.createDirectories(c.out);
        JsonIO.writeSorted(c.out.resolve("metrics.json"), o);
        if (task != null) {
            System.out.printf(
                    Locale.ROOT,
                    "ndcg@10 %.4f -> %.4f, recall@10 %.4f -> %.4f%n",
                    r.before().get("ndcg@10"),
                    r.after().get("ndcg@10"),
                    r.before().get("recall@10"),
                    r.after().get("recall@10"));
        }
        System.out.println("saved: " + r.saved());
        return 0;
    }

    static RetrievalData retrieval(TrainCommand c) throws Exception {
        return retrieval(c.queries, c.corpus, c.qrels, false);
    }

    /** The BEIR task of the three files, or null when none is given (unless required). */
    static RetrievalData retrieval(Path queries, Path corpus, Path qrels, boolean required)
            throws Exception {
        int given = (queries != null ? 1 : 0) + (corpus != null ? 1 : 0) + (qrels != null ? 1 : 0);
        if (given == 0 && !required) {
            return null;
        }
        if (given != 3) {
            throw new IllegalArgumentException(
                    "--queries, --corpus and --qrels go together (a BEIR retrieval task)");
        }
        return RetrievalData.read(queries, corpus, qrels);
    }

    static Loss loss(String name) {
        switch (name) {
            case "mnrl":
                return new MultipleNegativesRankingLoss();
            case "mnrl-symmetric":
                return new MultipleNegativesRankingLoss(20, true);
            case "triplet":
                return new TripletLoss();
            case "cosent":
                return new CoSentLoss();
            case "cosine":
                return new CosineSimilarityLoss();
            default:
                throw new IllegalArgumentException(
                        "--loss: unknown loss '"
                                + name
                                + "'; expected mnrl, mnrl-symmetric, triplet, cosent or cosine");
        }
    }

    static JsonObject metrics(Map<String, Double> m) {
        JsonObject o = new JsonObject();
        m.forEach(o::addProperty);
        return o;
    }
}
