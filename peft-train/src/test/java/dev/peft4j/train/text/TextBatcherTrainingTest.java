package dev.peft4j.train.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.LambdaBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Plugs a {@link TextBatcher} into DJL's own training loop, the way the examples use it. */
class TextBatcherTrainingTest {

    /** Token ids are hashed into this many buckets to keep the toy model small. */
    private static final int BUCKETS = 97;

    @Test
    void easyTrainFitsASeparableToyTaskFromTextBatcherBatches() throws Exception {
        Engine.getInstance().setRandomSeed(3);
        List<TextExample> examples = new ArrayList<>();
        String[] topics = {"weather", "football", "music", "cooking"};
        for (String topic : topics) {
            examples.add(new TextExample("a wonderful day of " + topic, 1));
            examples.add(new TextExample("a terrible day of " + topic, 0));
        }
        try (HuggingFaceTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(32);
                Model model = Model.newInstance("bag-of-words")) {
            TextBatcher data =
                    TextBatcher.builder()
                            .setExamples(examples)
                            .setTokenizer(tokenizer)
                            .setBatching(3, true, 5)
                            .build();
            model.setBlock(
                    new SequentialBlock()
                            .add(new LambdaBlock(DataBatchToBagOfWords::apply))
                            // a hidden layer: a softmax head's own gradients sum to exactly zero,
                            // which
                            // DJL's first-step check would take for missing gradients
                            .add(Linear.builder().setUnits(8).build())
                            .add(Activation::relu)
                            .add(Linear.builder().setUnits(2).build()));
            Optimizer adam = Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.05f)).build();
            DefaultTrainingConfig config =
                    new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss()).optOptimizer(adam);
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(3, 8), new Shape(3, 8), new Shape(3, 8));
                EasyTrain.fit(trainer, 30, data, null);
                int correct = 0;
                for (Batch batch : data.getData(trainer.getManager())) {
                    try (batch) {
                        NDArray predicted = trainer.evaluate(batch.getData()).head().argMax(1);
                        NDArray labels = batch.getLabels().head();
                        correct += (int) predicted.eq(labels).sum().getLong();
                    }
                }
                assertEquals(
                        examples.size(),
                        correct,
                        "the padded int64 batches train a classifier through EasyTrain");
            }
        }
    }

    /** Counts the hashed tokens of the unpadded positions: {@code [B, T]} to {@code [B, 97]}. */
    private static final class DataBatchToBagOfWords {
        static NDList apply(NDList inputs) {
            NDArray ids = inputs.get(0);
            NDArray mask = inputs.get(1).toType(DataType.FLOAT32, false).expandDims(2);
            return new NDList(ids.mod(BUCKETS).oneHot(BUCKETS).mul(mask).sum(new int[] {1}));
        }
    }
}
