package dev.peft4j.examples.text;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.core.tree.ModuleTree;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.train.TrainLoop;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.io.IOException;
import java.util.List;

/**
 * The baseline beside every adapter: the frozen pre-trained MiniLM plus a trained classification
 * head only. The encoder's pooled embeddings are computed once and the head trained on them with
 * the same optimizer, batch size and epochs (the same model as training only {@code classifier}).
 */
public final class LinearProbe {

    private LinearProbe() {}

    /** Test and shifted-test accuracy of the head trained on frozen embeddings. */
    public static double[] run(
            TextSplits splits, HuggingFaceTokenizer tokenizer, FineTuneRun.Settings s)
            throws IOException {
        Engine.getInstance().setRandomSeed((int) s.seed());
        int labels = splits.labelNames().size();
        try (NDManager manager = NDManager.newBaseManager();
                Model djl = Model.newInstance("probe")) {
            BertForSequenceClassification clf = MiniLm.CLASSIFIER.load(manager, labels);
            Block bert = ModuleTree.get(clf, "bert");
            NDArray trainX =
                    embed(bert, clf, splits.split(TextSplits.TRAIN), tokenizer, manager, s);
            NDArray trainY = labels(splits.split(TextSplits.TRAIN), manager);
            Block head = Linear.builder().setUnits(labels).build();
            head.initialize(manager, DataType.FLOAT32, new Shape(1, trainX.getShape().get(1)));
            djl.setBlock(head);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(s.learningRate()))
                                            .build());
            try (Trainer trainer = djl.newTrainer(cfg)) {
                ArrayDataset data =
                        new ArrayDataset.Builder()
                                .setData(trainX)
                                .optLabels(trainY)
                                .setSampling(s.batchSize(), true)
                                .build();
                TrainLoop.builder()
                        .setTrainer(trainer)
                        .setTrainData(data)
                        .optEpochs(s.epochs())
                        .optMaxSteps(s.maxSteps())
                        .optProgress(false)
                        .build()
                        .run();
            }
            double test =
                    accuracy(head, bert, clf, splits.split(TextSplits.TEST), tokenizer, manager, s);
            double shift =
                    splits.splits().containsKey(TextSplits.TEST_SHIFT)
                            ? accuracy(
                                    head,
                                    bert,
                                    clf,
                                    splits.split(TextSplits.TEST_SHIFT),
                                    tokenizer,
                                    manager,
                                    s)
                            : Double.NaN;
            return new double[] {test, shift};
        }
    }

    private static NDArray embed(
            Block bert,
            BertForSequenceClassification clf,
            List<TextExample> ex,
            HuggingFaceTokenizer tokenizer,
            NDManager manager,
            FineTuneRun.Settings s) {
        return TextClassifiers.collect(
                bert,
                TextClassifiers.batches(ex, tokenizer, 32, false, s.seed()),
                manager,
                (out, data) -> clf.pooling().pool(out.head(), data.get(1)));
    }

    private static NDArray labels(List<TextExample> ex, NDManager manager) {
        long[] y = new long[ex.size()];
        for (int i = 0; i < y.length; i++) {
            y[i] = ex.get(i).label();
        }
        return manager.create(y);
    }

    private static double accuracy(
            Block head,
            Block bert,
            BertForSequenceClassification clf,
            List<TextExample> ex,
            HuggingFaceTokenizer tokenizer,
            NDManager manager,
            FineTuneRun.Settings s) {
        NDArray x = embed(bert, clf, ex, tokenizer, manager, s);
        NDArray logits =
                head.forward(new ParameterStore(manager, false), new NDList(x), false)
                        .singletonOrThrow();
        return logits.argMax(1).eq(labels(ex, manager)).sum().getLong() / (double) ex.size();
    }
}
