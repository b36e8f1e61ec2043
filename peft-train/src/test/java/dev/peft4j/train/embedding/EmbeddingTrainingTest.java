package dev.peft4j.train.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.TrainLoop;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Contrastive training of a tiny BERT with LoRA through TrainLoop, and the data formats. */
class EmbeddingTrainingTest {

    @TempDir Path tmp;

    private static final String[] WORDS = {
        "cat", "stock", "rain", "goal", "code", "bread", "river", "piano", "engine", "garden",
        "winter", "doctor", "castle", "planet", "coffee", "soccer", "forest", "train", "market",
        "island", "camera", "violin", "desert", "rocket"
    };

    /** Query and document pairs about one word each; two anchors repeat (kept apart by the sampler). */
    static List<EmbeddingExample> pairs() {
        List<EmbeddingExample> rows = new ArrayList<>();
        for (int i = 0; i < WORDS.length; i++) {
            String anchor = i == 7 || i == 19 ? "tell me more" : "what about the " + WORDS[i];
            rows.add(EmbeddingExample.of(anchor, "a page on " + WORDS[i] + " and more"));
        }
        return rows;
    }

    record Run(List<Float> losses, Map<String, float[]> weights) {}

    static Run train(Loss loss, List<EmbeddingExample> rows, int steps) throws Exception {
        Engine.getInstance().setRandomSeed(7); // LoRA's initialization and the dropout masks
        BertConfig config =
                BertConfig.parse(
                        "{\"vocab_size\": 30522, \"hidden_size\": 16, \"num_hidden_layers\": 1,"
                            + " \"num_attention_heads\": 2, \"intermediate_size\": 32,"
                            + " \"max_position_embeddings\": 32, \"hidden_dropout_prob\": 0.1}");
        try (NDManager m = NDManager.newBaseManager();
                Model djl = Model.newInstance("embedding");
                HuggingFaceTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(16)) {
            BertModel bert = new BertModel(config, false);
            TinyModels.init(bert, m, new Shape(1, 8), 5);
            PeftModel pm =
                    PeftModel.create(
                            bert,
                            LoraConfig.builder()
                                    .optRank(4)
                                    .optAlpha(8)
                                    .setTargetModules("query", "key", "value", "dense")
                                    .build());
            SentenceEncoder encoder = new SentenceEncoder(bert, 16, Pooling.MEAN, true);
            djl.setBlock(encoder);
            EmbeddingBatcher data =
                    EmbeddingBatcher.builder()
                            .setRows(rows)
                            .setTokenizer(tokenizer)
                            .setNoDuplicatesBatching(6, 3)
                            .build();
            try (Trainer trainer =
                    pm.newTrainer(
                            djl,
                            new DefaultTrainingConfig(loss)
                                    .optOptimizer(
                                            Optimizer.adam()
                                                    .optLearningRateTracker(Tracker.fixed(1e-2f))
                                                    .build()))) {
                List<Float> losses =
                        TrainLoop.builder()
                                .setTrainer(trainer)
                                .setTrainData(data)
                                .optEpochs(100)
                                .optMaxSteps(steps)
                                .optProgress(false)
                                .build()
                                .run();
                Map<String, float[]> weights = new TreeMap<>();
                for (Pair<String, Parameter> p : bert.getParameters()) {
                    weights.put(p.getKey(), p.getValue().getArray().toFloatArray());
                }
                return new Run(losses, weights);
            }
        }
    }

    @Test
    void loraTrainsTheEncoderWithInBatchNegativesReproducibly() throws Exception {
        Run first = train(new MultipleNegativesRankingLoss(), pairs(), 120);
        double early = mean(first.losses().subList(0, 20));
        double late = mean(first.losses().subList(100, 120));
        assertTrue(late < 0.85 * early, "loss fell from " + early + " to " + late);
        Run second = train(new MultipleNegativesRankingLoss(), pairs(), 120);
        assertEquals(first.losses(), second.losses());
        first.weights().forEach((k, v) -> assertArrayEquals(v, second.weights().get(k), k));
        // only the adapters moved: the base weights are the initial ones
        Run none = train(new MultipleNegativesRankingLoss(), pairs(), 1);
        first.weights()
                .forEach(
                        (k, v) -> {
                            if (!k.contains("lora")) {
                                assertArrayEquals(none.weights().get(k), v, k);
                            }
                        });
    }

    @Test
    void batchesHoldNoDuplicateTextAndEveryRowOnce() throws Exception {
        List<EmbeddingExample> rows = pairs();
        try (NDManager m = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(16)) {
            EmbeddingBatcher data =
                    EmbeddingBatcher.builder()
                            .setRows(rows)
                            .setTokenizer(tokenizer)
                            .setNoDuplicatesBatching(6, 3)
                            .build();
            for (int epoch = 0; epoch < 3; epoch++) {
                List<Long> seen = new ArrayList<>();
                for (Batch b : data.getData(m)) {
                    try (b) {
                        assertEquals(6, b.getData().size(), "3 arrays per column");
                        List<String> texts = new ArrayList<>();
                        for (Object o : b.getIndices()) {
                            long index = (Long) o;
                            seen.add(index);
                            texts.addAll(rows.get((int) index).texts());
                        }
                        assertEquals(
                                texts.size(), texts.stream().distinct().count(), texts.toString());
                    }
                }
                assertEquals(rows.size(), seen.size());
                assertEquals(rows.size(), seen.stream().distinct().count());
            }
        }
    }

    @Test
    void malformedRowsAreRefusedNamingFileAndLine() throws Exception {
        Path pairs = tmp.resolve("pairs.jsonl");
        Files.writeString(
                pairs,
                "{\"anchor\": \"a\", \"positive\": \"b\", \"negative\": \"c\"}\n\n"
                        + "{\"anchor\": \"d\", \"positive\": \"e\"}\n");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> EmbeddingData.readPairs(pairs));
        assertTrue(e.getMessage().startsWith(pairs + ":3: no \"negative\""), e.getMessage());
        Files.writeString(pairs, "{\"anchor\": \"a\", \"positive\": 4}\n");
        e = assertThrows(IllegalArgumentException.class, () -> EmbeddingData.readPairs(pairs));
        assertTrue(
                e.getMessage().equals(pairs + ":1: expected a string under \"positive\""),
                e.getMessage());
        Path scored = tmp.resolve("scored.jsonl");
        Files.writeString(
                scored,
                "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 0.5}\n"
                        + "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 1.5}\n");
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> EmbeddingData.readScored(scored, -1, 1));
        assertTrue(e.getMessage().startsWith(scored + ":2: score 1.5 is outside"), e.getMessage());
        assertEquals(
                2,
                EmbeddingData.readScored(scored, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY)
                        .size());
        Files.writeString(scored, "not json\n");
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> EmbeddingData.readScored(scored, -1, 1));
        assertTrue(e.getMessage().startsWith(scored + ":1: not JSON"), e.getMessage());
    }

    private static double mean(List<Float> values) {
        return values.stream().mapToDouble(Float::doubleValue).average().orElse(Double.NaN);
    }
}
