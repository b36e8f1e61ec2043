package dev.peft4j.models.bert;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.models.io.HfStateDict;
import dev.peft4j.models.testing.Dense;
import dev.peft4j.models.testing.MapTensorSource;
import dev.peft4j.models.testing.TestWeights;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A tiny seeded BERT classifier (pooler head, token types, padding) against a step-by-step dense
 * reference; training through DJL's Trainer; dropout only in training.
 */
class BertReferenceTest {

    private static final double TOL = 1e-4;
    private static final int LABELS = 3;

    static final String CONFIG =
            "{\"vocab_size\": 50, \"hidden_size\": 16, \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"intermediate_size\": 32,"
                + " \"max_position_embeddings\": 16, \"type_vocab_size\": 2, \"layer_norm_eps\":"
                + " 1e-6, \"hidden_dropout_prob\": 0.1, \"attention_probs_dropout_prob\": 0.1}";

    // right padding in row 1; a second segment (token type 1) in row 0
    private static final long[][] IDS = {{2, 14, 7, 3, 9, 33, 3}, {2, 41, 18, 3, 0, 0, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
    private static final long[][] TYPES = {{0, 0, 0, 0, 1, 1, 1}, {0, 0, 0, 0, 0, 0, 0}};

    @Test
    void poolerClassifierMatchesReference() {
        BertConfig config = BertConfig.parse(CONFIG);
        try (NDManager manager = NDManager.newBaseManager()) {
            BertForSequenceClassification model =
                    new BertForSequenceClassification(config, LABELS, Pooling.POOLER);
            MapTensorSource w = TestWeights.randomize(model, manager, 31, ids(), ids(), ids());
            assertTrue(
                    HfStateDict.of(model)
                            .keySet()
                            .containsAll(
                                    List.of(
                                            "bert.embeddings.word_embeddings.weight",
                                            "bert.embeddings.LayerNorm.weight",
                                            "bert.encoder.layer.1.attention.self.query.weight",
                                            "bert.encoder.layer.1.attention.output.LayerNorm.bias",
                                            "bert.encoder.layer.1.intermediate.dense.weight",
                                            "bert.encoder.layer.1.output.dense.weight",
                                            "bert.pooler.dense.weight",
                                            "classifier.weight")));
            NDArray logits =
                    model.forward(new ParameterStore(manager, false), inputs(manager), false)
                            .head();
            for (int b = 0; b < IDS.length; b++) {
                assertAlmostEquals(
                        logits.get(b).toFloatArray(),
                        Dense.flatten(reference(config, w, IDS[b], MASK[b], TYPES[b]), 1),
                        TOL,
                        TOL);
            }
        }
    }

    @Test
    void meanAndClsPoolingMatchReferenceStates() {
        BertConfig config = BertConfig.parse(CONFIG);
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(config, false);
            MapTensorSource w = TestWeights.randomize(model, manager, 32, ids(), ids(), ids());
            NDList in = inputs(manager);
            NDArray hidden = model.forward(new ParameterStore(manager, false), in, false).head();
            NDArray mean = Pooling.MEAN.pool(hidden, in.get(1));
            NDArray cls = Pooling.CLS.pool(hidden, in.get(1));
            for (int b = 0; b < IDS.length; b++) {
                double[][] states = encode(config, new Prefixed(w, ""), IDS[b], MASK[b], TYPES[b]);
                int real = (int) Arrays.stream(MASK[b]).sum();
                double[][] avg = new double[1][config.hiddenSize()];
                for (int t = 0; t < real; t++) {
                    for (int i = 0; i < avg[0].length; i++) {
                        avg[0][i] += states[t][i] / real;
                    }
                }
                assertAlmostEquals(mean.get(b).toFloatArray(), Dense.flatten(avg, 1), TOL, TOL);
                assertAlmostEquals(cls.get(b).toFloatArray(), Dense.flatten(states, 1), TOL, TOL);
            }
        }
    }

    @Test
    void dropoutOnlyInTraining() {
        BertConfig config = BertConfig.parse(CONFIG);
        Engine.getInstance().setRandomSeed(33);
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(config, false);
            TestWeights.randomize(model, manager, 34, ids(), ids(), ids());
            ParameterStore ps = new ParameterStore(manager, false);
            NDArray eval1 = model.forward(ps, inputs(manager), false).head();
            NDArray eval2 = model.forward(ps, inputs(manager), false).head();
            NDArray train = model.forward(ps, inputs(manager), true).head();
            assertAlmostEquals(eval2, eval1, 0, 0);
            assertTrue(
                    train.sub(eval1).abs().max().getFloat() > 1e-3,
                    "training pass must apply dropout");
        }
    }

    @Test
    void trainsWithDjlTrainer() {
        BertConfig config = BertConfig.parse(CONFIG);
        Engine.getInstance().setRandomSeed(35);
        try (Model djl = Model.newInstance("tiny-bert")) {
            BertForSequenceClassification block =
                    new BertForSequenceClassification(config, LABELS, Pooling.MEAN);
            djl.setBlock(block);
            DefaultTrainingConfig training =
                    new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-2f))
                                            .build());
            try (Trainer trainer = djl.newTrainer(training)) {
                trainer.initialize(ids(), ids(), ids());
                NDManager manager = trainer.getManager();
                NDList data = inputs(manager);
                NDList labels = new NDList(manager.create(new long[] {2, 0}));
                float first = step(trainer, data, labels);
                float last = first;
                for (int i = 0; i < 30; i++) {
                    last = step(trainer, data, labels);
                }
                assertTrue(last < 0.3 * first, "loss " + first + " -> " + last);
            }
        }
    }

    @Test
    void invalidConfigsAreNamed() {
        IllegalArgumentException heads =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                BertConfig.parse(
                                        "{\"hidden_size\": 10, \"num_attention_heads\": 4}"));
        assertTrue(heads.getMessage().contains("num_attention_heads"), heads.getMessage());
        IllegalArgumentException act =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> BertConfig.parse("{\"hidden_act\": \"swiglu\"}"));
        assertTrue(act.getMessage().contains("hidden_act"), act.getMessage());
        IllegalArgumentException pos =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> BertConfig.parse("{\"position_embedding_type\": \"relative_key\"}"));
        assertTrue(pos.getMessage().contains("position_embedding_type"), pos.getMessage());
    }

    private static float step(Trainer trainer, NDList data, NDList labels) {
        float loss;
        try (GradientCollector collector = trainer.newGradientCollector()) {
            NDList predictions = trainer.forward(data, labels);
            NDArray value = trainer.getLoss().evaluate(labels, predictions);
            loss = value.getFloat();
            collector.backward(value);
        }
        trainer.step();
        return loss;
    }

    private static Shape ids() {
        return new Shape(2, 7);
    }

    private static NDList inputs(NDManager manager) {
        return new NDList(manager.create(IDS), manager.create(MASK), manager.create(TYPES));
    }

    /** The logits of one sequence: pooler on token 0, then the classifier. */
    static double[][] reference(
            BertConfig c, MapTensorSource w, long[] ids, long[] mask, long[] types) {
        double[][] states = encode(c, new Prefixed(w, "bert."), ids, mask, types);
        double[][] pooled =
                Dense.linear(
                        new double[][] {states[0]},
                        w.values("bert.pooler.dense.weight"),
                        w.values("bert.pooler.dense.bias"),
                        c.hiddenSize());
        for (int i = 0; i < pooled[0].length; i++) {
            pooled[0][i] = Math.tanh(pooled[0][i]);
        }
        return Dense.linear(
                pooled, w.values("classifier.weight"), w.values("classifier.bias"), LABELS);
    }

    /** Names tensors under a prefix ("bert." inside the classifier, "" in a bare encoder). */
    private record Prefixed(MapTensorSource w, String prefix) {
        float[] get(String name) {
            return w.values(prefix + name);
        }
    }

    /** The last hidden state of one sequence, BERT post-norm layers written out. */
    private static double[][] encode(
            BertConfig c, Prefixed w, long[] ids, long[] mask, long[] types) {
        int h = c.hiddenSize();
        double eps = c.layerNormEps();
        float[] word = w.get("embeddings.word_embeddings.weight");
        float[] position = w.get("embeddings.position_embeddings.weight");
        float[] type = w.get("embeddings.token_type_embeddings.weight");
        double[][] x = new double[ids.length][h];
        for (int t = 0; t < ids.length; t++) {
            for (int i = 0; i < h; i++) {
                x[t][i] =
                        word[(int) ids[t] * h + i]
                                + position[t * h + i]
                                + type[(int) types[t] * h + i];
            }
        }
        x =
                Dense.layerNorm(
                        x,
                        w.get("embeddings.LayerNorm.weight"),
                        w.get("embeddings.LayerNorm.bias"),
                        eps);
        boolean[][] allowed = new boolean[ids.length][ids.length];
        for (int t = 0; t < ids.length; t++) {
            for (int s = 0; s < ids.length; s++) {
                allowed[t][s] = mask[s] == 1;
            }
        }
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "encoder.layer." + l + ".";
            double[][] a =
                    Dense.attention(
                            proj(x, w, p + "attention.self.query", h),
                            proj(x, w, p + "attention.self.key", h),
                            proj(x, w, p + "attention.self.value", h),
                            c.numAttentionHeads(),
                            c.numAttentionHeads(),
                            allowed);
            x =
                    Dense.layerNorm(
                            Dense.add(x, proj(a, w, p + "attention.output.dense", h)),
                            w.get(p + "attention.output.LayerNorm.weight"),
                            w.get(p + "attention.output.LayerNorm.bias"),
                            eps);
            double[][] u = proj(x, w, p + "intermediate.dense", c.intermediateSize());
            for (double[] row : u) {
                for (int i = 0; i < row.length; i++) {
                    row[i] = Dense.gelu(row[i]);
                }
            }
            x =
                    Dense.layerNorm(
                            Dense.add(x, proj(u, w, p + "output.dense", h)),
                            w.get(p + "output.LayerNorm.weight"),
                            w.get(p + "output.LayerNorm.bias"),
                            eps);
        }
        return x;
    }

    private static double[][] proj(double[][] x, Prefixed w, String name, int out) {
        return Dense.linear(x, w.get(name + ".weight"), w.get(name + ".bias"), out);
    }
}
