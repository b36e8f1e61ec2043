package dev.peft4j.examples.text;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TextBatcher;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextSplits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Full fine-tuning of MiniLM (every parameter trains) on one task, saved as a Hugging Face
 * {@code model.safetensors} ({@code bert.*} and {@code classifier.*}): the other kind of
 * candidate for model merging.
 */
public final class FullFineTune {

    /** The usual learning rate of full BERT fine-tuning with Adam (Devlin et al. 2019). */
    public static final float LEARNING_RATE = 5e-5f;

    private FullFineTune() {}

    /** Trains, saves {@code out/model.safetensors}, and returns the test accuracy. */
    public static double run(
            String name,
            TextSplits splits,
            HuggingFaceTokenizer tokenizer,
            FineTuneRun.Settings s,
            Path out)
            throws IOException {
        Engine.getInstance().setRandomSeed((int) s.seed());
        TextBatcher train =
                TextClassifiers.batches(
                        splits.split(TextSplits.TRAIN), tokenizer, s.batchSize(), true, s.seed());
        try (NDManager manager = NDManager.newBaseManager();
                Model djl = Model.newInstance(name)) {
            BertForSequenceClassification clf =
                    MiniLm.CLASSIFIER.load(manager, splits.labelNames().size());
            clf.freezeParameters(false);
            djl.setBlock(clf);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(s.learningRate()))
                                            .build());
            try (Trainer trainer = djl.newTrainer(cfg)) {
                FineTuneRun.loop(trainer, train, s, name + " full").build().run();
            }
            Files.createDirectories(out);
            HfWeights.save(clf, out.resolve("model.safetensors"));
            TextBatcher test =
                    TextClassifiers.batches(
                            splits.split(TextSplits.TEST), tokenizer, 32, false, s.seed());
            return TextClassifiers.accuracy(clf, test, manager);
        }
    }
}
