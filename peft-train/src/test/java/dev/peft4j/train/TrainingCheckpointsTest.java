package dev.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.SafeL2Loss;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.TextBatcher;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextExample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resumable training: {@link ResumableAdam} updates exactly as DJL's Adam, and a run resumed from
 * a checkpoint (mid-epoch, in a new model and trainer, as a new process would) ends with the
 * weights and losses of the uninterrupted run, bit for bit.
 */
class TrainingCheckpointsTest extends ManagedTest {

    @TempDir Path tmp;

    @Test
    void resumableAdamUpdatesExactlyAsDjlsAdam() throws Exception {
        float[] djl =
                fitLinear(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.05f)).build());
        float[] ours =
                fitLinear(
                        ResumableAdam.builder()
                                .optLearningRateTracker(Tracker.fixed(0.05f))
                                .build());
        assertArrayEquals(djl, ours, 0f);
        float[] untrained =
                fitLinear(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0f)).build());
        assertTrue(untrained[0] != ours[0], "the steps moved the weights");
    }

    private float[] fitLinear(Optimizer optimizer) throws Exception {
        Block block = Linear.builder().setUnits(2).build();
        block.initialize(manager, DataType.FLOAT32, new Shape(4, 3));
        block.getParameters()
                .get("weight")
                .getArray()
                .set(new float[] {0.3f, -0.2f, 0.1f, 0.5f, 0, -0.4f});
        block.getParameters().get("bias").getArray().set(new float[] {0.05f, -0.1f});
        ArrayDataset data =
                new ArrayDataset.Builder()
                        .setData(TinyModels.input(manager, new Shape(16, 3), 1))
                        .optLabels(TinyModels.input(manager, new Shape(16, 2), 2))
                        .setSampling(4, false)
                        .build();
        try (Model model = Model.newInstance("adam")) {
            model.setBlock(block);
            try (Trainer trainer =
                    model.newTrainer(
                            new DefaultTrainingConfig(new SafeL2Loss()).optOptimizer(optimizer))) {
                TrainLoop.builder()
                        .setTrainer(trainer)
                        .setTrainData(data)
                        .optEpochs(5)
                        .optProgress(false)
                        .build()
                        .run();
            }
        }
        float[] w = block.getParameters().get("weight").getArray().toFloatArray();
        float[] b = block.getParameters().get("bias").getArray().toFloatArray();
        return new float[] {w[0], w[1], w[2], w[3], w[4], w[5], b[0], b[1]};
    }

    @Test
    void aResumedRunEndsWithTheUninterruptedRunsWeightsBitForBit() throws Exception {
        Run whole = train(tmp.resolve("whole"), 20, false);
        Path dir = tmp.resolve("interrupted");
        Run first = train(dir, 11, false);
        assertEquals(whole.losses().subList(0, 11), first.losses());
        List<String> written = names(dir);
        assertEquals(List.of("checkpoint-11", "checkpoint-9"), written, "the newest two are kept");
        // as if the process died after checkpoint 9, before 11 was published
        try (var files = Files.walk(dir.resolve("checkpoint-11"))) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        Files.createDirectories(dir.resolve("checkpoint-11.tmp-dead"));
        Run resumed = train(dir, 20, true);
        assertEquals(whole.losses(), resumed.losses(), "losses 1-9 restored, 10-20 recomputed");
        assertEquals(whole.weights().keySet(), resumed.weights().keySet());
        whole.weights().forEach((k, v) -> assertArrayEquals(v, resumed.weights().get(k), k));
        assertTrue(
                !names(dir).contains("checkpoint-11.tmp-dead"), "a killed write's staging is gone");
    }

    @Test
    void aCheckpointOnAnEpochsLastBatchResumesAtTheNextEpoch() throws Exception {
        // 40 examples in batches of 8: 5 steps an epoch, so checkpoint-15 ends epoch 3
        List<Integer> wholeEpochs = new ArrayList<>();
        Run whole = train(tmp.resolve("whole"), 20, false, (e, l) -> wholeEpochs.add(e), "query");
        Path dir = tmp.resolve("interrupted");
        List<Integer> epochs = new ArrayList<>();
        train(dir, 15, false, (e, l) -> epochs.add(e), "query");
        assertEquals(List.of(1, 2, 3), epochs);
        Run resumed = train(dir, 20, true, (e, l) -> epochs.add(e), "query");
        assertEquals(wholeEpochs, epochs, "epoch 3's end is not replayed");
        assertEquals(List.of(1, 2, 3, 4), epochs);
        assertEquals(whole.losses(), resumed.losses());
        whole.weights().forEach((k, v) -> assertArrayEquals(v, resumed.weights().get(k), k));
    }

    @Test
    void aCheckpointOfAnotherModelIsRefusedNamingTheFile() throws Exception {
        Path dir = tmp.resolve("ckpt");
        train(dir, 3, false);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> train(dir, 6, true, "query"));
        assertTrue(
                e.getMessage().contains("trainable.safetensors")
                        && e.getMessage().contains("the model trains"),
                e.getMessage());
    }

    @Test
    void aFreshRunIntoAnEarlierRunsCheckpointsIsRefusedAndLeavesThem() throws Exception {
        Path dir = tmp.resolve("ckpt");
        train(dir, 6, false);
        byte[] before = Files.readAllBytes(dir.resolve("checkpoint-6/trainable.safetensors"));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> train(dir, 9, false));
        assertTrue(
                e.getMessage().contains(dir.toString())
                        && e.getMessage().contains("checkpoint-6")
                        && e.getMessage().contains("resume"),
                e.getMessage());
        assertEquals(List.of("checkpoint-3", "checkpoint-6"), names(dir));
        assertArrayEquals(
                before, Files.readAllBytes(dir.resolve("checkpoint-6/trainable.safetensors")));
    }

    @Test
    void aCheckpointOfAnotherSeedIsRefused() throws Exception {
        Path dir = tmp.resolve("ckpt");
        train(dir, 3, false);
        TrainingCheckpoints other =
                TrainingCheckpoints.builder()
                        .setDirectory(dir)
                        .setOptimizer(ResumableAdam.builder().build())
                        .setSeed(6)
                        .optResume(true)
                        .build();
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> other.resume(null, null));
        assertTrue(
                e.getMessage().contains("checkpoint-3")
                        && e.getMessage().contains("trainer_state.json")
                        && e.getMessage().contains("seed 5"),
                e.getMessage());
    }

    static List<String> names(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (var s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).sorted().forEach(out::add);
        }
        return out;
    }

    record Run(List<Float> losses, Map<String, float[]> weights) {}

    static Run train(Path dir, int steps, boolean resume) throws IOException {
        return train(dir, steps, resume, (e, l) -> {}, "query", "value");
    }

    static Run train(Path dir, int steps, boolean resume, String... targets) throws IOException {
        return train(dir, steps, resume, (e, l) -> {}, targets);
    }

    /** A tiny BERT with dropout and LoRA (with dropout) on {@code targets}, checkpointed every 3 steps. */
    static Run train(
            Path dir, int steps, boolean resume, TrainLoop.EpochListener onEpoch, String... targets)
            throws IOException {
        BertConfig config =
                BertConfig.parse(
                        "{\"vocab_size\": 30522, \"hidden_size\": 16, \"num_hidden_layers\": 1,"
                                + " \"num_attention_heads\": 2, \"intermediate_size\": 32,"
                                + " \"max_position_embeddings\": 32, \"hidden_dropout_prob\": 0.1,"
                                + " \"attention_probs_dropout_prob\": 0.1}");
        List<TextExample> examples = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            examples.add(
                    new TextExample(
                            "text number " + i + (i % 3 == 0 ? " free prize" : ""),
                            i % 3 == 0 ? 1 : 0));
        }
        try (NDManager m = NDManager.newBaseManager();
                Model djl = Model.newInstance("ckpt");
                HuggingFaceTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(16)) {
            BertForSequenceClassification model =
                    new BertForSequenceClassification(config, 2, Pooling.MEAN);
            TinyModels.init(model, m, new Shape(1, 8), 17);
            djl.setBlock(model);
            PeftModel pm =
                    PeftModel.create(
                            model,
                            LoraConfig.builder()
                                    .optRank(2)
                                    .optDropout(0.2)
                                    .setTargetModules(targets)
                                    .optModulesToSave("classifier")
                                    .build());
            ResumableAdam adam =
                    ResumableAdam.builder().optLearningRateTracker(Tracker.fixed(1e-2f)).build();
            TextBatcher data = TextClassifiers.batches(examples, tokenizer, 8, true, 42);
            try (Trainer trainer =
                    pm.newTrainer(
                            djl,
                            new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                                    .optOptimizer(adam))) {
                List<Float> losses =
                        TrainLoop.builder()
                                .setTrainer(trainer)
                                .setTrainData(data)
                                .optEpochs(100)
                                .optMaxSteps(steps)
                                .optProgress(false)
                                .optOnEpoch(onEpoch)
                                .optCheckpoints(
                                        TrainingCheckpoints.builder()
                                                .setDirectory(dir)
                                                .setOptimizer(adam)
                                                .setSeed(5)
                                                .optEvery(3)
                                                .optResume(resume)
                                                .build())
                                .build()
                                .run();
                Map<String, float[]> weights = new TreeMap<>();
                for (Pair<String, Parameter> p : model.getParameters()) {
                    weights.put(p.getKey(), p.getValue().getArray().toFloatArray());
                }
                return new Run(losses, weights);
            }
        }
    }
}
