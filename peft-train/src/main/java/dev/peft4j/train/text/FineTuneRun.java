package dev.peft4j.train.text;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.SaveOption;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.train.ResumableAdam;
import dev.peft4j.train.TrainLoop;
import dev.peft4j.train.TrainingCheckpoints;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Fine-tunes a pre-trained BERT-family classifier with one adapter on one task: per-step loss (in the
 * progress bar, and a log line every {@code logEvery} steps), validation accuracy per epoch, the
 * best adapter saved, then reloaded onto a freshly loaded model for the test accuracies.
 */
public final class FineTuneRun {

    /**
     * Training settings. With {@code checkpointEvery > 0} the run writes resumable checkpoints to
     * {@code out/checkpoints} every so many steps ({@link TrainingCheckpoints}, with {@link
     * ResumableAdam}), and with {@code resume} it starts from the newest one there.
     */
    public record Settings(
            int batchSize,
            int epochs,
            int maxSteps,
            float learningRate,
            long seed,
            int logEvery,
            boolean progress,
            int checkpointEvery,
            boolean resume) {

        /** Settings without checkpoints. */
        public Settings(
                int batchSize,
                int epochs,
                int maxSteps,
                float learningRate,
                long seed,
                int logEvery,
                boolean progress) {
            this(batchSize, epochs, maxSteps, learningRate, seed, logEvery, progress, 0, false);
        }

        /** These settings with another learning rate. */
        public Settings withLearningRate(float lr) {
            return new Settings(
                    batchSize,
                    epochs,
                    maxSteps,
                    lr,
                    seed,
                    logEvery,
                    progress,
                    checkpointEvery,
                    resume);
        }

        /** These settings with another number of epochs and step cap. */
        public Settings withSteps(int epochs, int maxSteps) {
            return new Settings(
                    batchSize,
                    epochs,
                    maxSteps,
                    learningRate,
                    seed,
                    logEvery,
                    progress,
                    checkpointEvery,
                    resume);
        }
    }

    /** What a run measured. */
    public record Result(
            String name,
            long trainable,
            List<Float> losses,
            List<Double> validation,
            double test,
            double testShift,
            double seconds,
            Path adapter) {

        /** The mean loss of the 10 steps ending at {@code step} (1-based), NaN past the end. */
        public double lossAt(int step) {
            if (step > losses.size()) {
                return Double.NaN;
            }
            double sum = 0;
            int n = 0;
            for (int i = Math.max(0, step - 10); i < step; i++) {
                if (Float.isFinite(
                        losses.get(i))) { // a skipped step (non-finite loss) does not count
                    sum += losses.get(i);
                    n++;
                }
            }
            return n == 0 ? Double.NaN : sum / n;
        }
    }

    /** Loads the pre-trained classifier with a fresh head of {@code labels} classes. */
    @FunctionalInterface
    public interface ModelFactory {
        /** A freshly loaded classifier on {@code manager}. */
        BertForSequenceClassification load(NDManager manager, int labels) throws IOException;
    }

    /**
     * Prepares the adapter on a freshly loaded classifier; data-driven initializers use the batches
     * of {@code train}, a batcher of its own over the training split (same batches and order as
     * training's), so that reading it does not change the order training sees.
     */
    @FunctionalInterface
    public interface Setup {
        /** Returns the PeftModel to train. */
        PeftModel apply(BertForSequenceClassification model, TextBatcher train, NDManager manager)
                throws IOException;
    }

    private FineTuneRun() {}

    /**
     * A setup that injects {@code config} as the {@code default} adapter and runs its data-driven
     * initialization, if it has one ({@link PeftModel#initializeFromData}: LoRA-GA's gradient pass,
     * EVA's PCA, with peft-init on the class path), printing how long it took.
     */
    public static Setup inject(AdapterConfig config) {
        return (model, train, manager) -> {
            long start = System.nanoTime();
            PeftModel pm = PeftModel.create(model, config);
            pm.initializeFromData(
                    PeftModel.DEFAULT, train.getData(manager), Loss.softmaxCrossEntropyLoss());
            System.out.printf(
                    Locale.ROOT,
                    "[init] adapter created and initialized in %.1f s%n",
                    (System.nanoTime() - start) / 1e9);
            return pm;
        };
    }

    /** Runs one fine-tuning; the best adapter goes to {@code out/best-adapter}. */
    public static Result run(
            String name,
            ModelFactory factory,
            TextSplits splits,
            HuggingFaceTokenizer tokenizer,
            Setup setup,
            Settings s,
            Path out)
            throws IOException {
        Engine.getInstance().setRandomSeed((int) s.seed());
        int labels = splits.labelNames().size();
        TextBatcher train =
                TextClassifiers.batches(
                        splits.split(TextSplits.TRAIN), tokenizer, s.batchSize(), true, s.seed());
        TextBatcher validation = evaluationBatches(splits, TextSplits.VALIDATION, tokenizer, s);
        Path best = out.resolve("best-adapter");
        long start = System.nanoTime();
        List<Float> losses;
        List<Double> accuracies = new ArrayList<>();
        long trainable;
        try (NDManager manager = NDManager.newBaseManager();
                Model djl = Model.newInstance(name)) {
            BertForSequenceClassification model = factory.load(manager, labels);
            djl.setBlock(model);
            TextBatcher initData =
                    TextClassifiers.batches(
                            splits.split(TextSplits.TRAIN),
                            tokenizer,
                            s.batchSize(),
                            true,
                            s.seed());
            PeftModel pm = setup.apply(model, initData, manager);
            trainable = pm.trainableParameterCount();
            System.out.println("[" + name + "] " + pm.trainableSummary());
            TrainingCheckpoints checkpoints = null;
            Optimizer optimizer;
            if (s.checkpointEvery() > 0) {
                ResumableAdam adam =
                        ResumableAdam.builder()
                                .optLearningRateTracker(Tracker.fixed(s.learningRate()))
                                .build();
                optimizer = adam;
                checkpoints =
                        TrainingCheckpoints.builder()
                                .setDirectory(out.resolve("checkpoints"))
                                .setOptimizer(adam)
                                .setSeed(s.seed())
                                .optEvery(s.checkpointEvery())
                                .optResume(s.resume())
                                .build();
            } else {
                optimizer =
                        Optimizer.adam()
                                .optLearningRateTracker(Tracker.fixed(s.learningRate()))
                                .build();
            }
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(pm.trainingLoss(Loss.softmaxCrossEntropyLoss()))
                            .optOptimizer(optimizer);
            double[] bestAccuracy = {-1};
            Path validationFile = out.resolve("validation.json");
            int done = checkpoints == null ? 0 : checkpoints.completedEpochs();
            if (done > 0) {
                // the epochs before the checkpoint: their accuracies and the best so far (an
                // epoch validated after the checkpoint is run again, to the same result)
                JsonArray saved =
                        Files.isRegularFile(validationFile)
                                ? JsonIO.readObject(validationFile).getAsJsonArray("accuracies")
                                : new JsonArray();
                if (saved == null || saved.size() < done) {
                    throw new IllegalArgumentException(
                            validationFile
                                    + ": expected the accuracies of the "
                                    + done
                                    + " epochs before the newest checkpoint in "
                                    + out.resolve("checkpoints")
                                    + ", found "
                                    + (saved == null ? "none" : saved.size()));
                }
                for (int i = 0; i < done; i++) {
                    accuracies.add(saved.get(i).getAsDouble());
                    bestAccuracy[0] = Math.max(bestAccuracy[0], saved.get(i).getAsDouble());
                }
            }
            try (Trainer trainer = pm.newTrainer(djl, cfg)) {
                TrainLoop loop =
                        loop(trainer, train, s, name)
                                .optOnEpoch(
                                        (epoch, epochLosses) -> {
                                            double acc =
                                                    TextClassifiers.accuracy(
                                                            model, validation, manager);
                                            accuracies.add(acc);
                                            System.out.printf(
                                                    Locale.ROOT,
                                                    "[%s] epoch %d  mean loss %.4f  validation"
                                                            + " accuracy %.2f%%%n",
                                                    name,
                                                    epoch,
                                                    mean(epochLosses),
                                                    100 * acc);
                                            if (acc > bestAccuracy[0]) {
                                                bestAccuracy[0] = acc;
                                                save(pm, best);
                                            }
                                            writeAccuracies(validationFile, accuracies);
                                        })
                                .optCheckpoints(checkpoints)
                                .build();
                losses = loop.run();
                if (loop.skippedSteps() > 0) {
                    System.out.printf(
                            Locale.ROOT,
                            "[%s] %d step(s) skipped: their loss was not finite%n",
                            name,
                            loop.skippedSteps());
                }
            }
        }
        double[] tests = evaluateSaved(factory, best, splits, tokenizer, s);
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(name, trainable, losses, accuracies, tests[0], tests[1], seconds, best);
    }

    /**
     * A {@link TrainLoop} builder for {@code trainer} over {@code train} with the epochs, step cap
     * and progress bar of {@code s}, logging the loss as {@link #logLoss} does.
     */
    public static TrainLoop.Builder loop(
            Trainer trainer, RandomAccessDataset train, Settings s, String name) {
        return TrainLoop.builder()
                .setTrainer(trainer)
                .setTrainData(train)
                .optEpochs(s.epochs())
                .optMaxSteps(s.maxSteps())
                .optProgress(s.progress())
                .optStepsPerEpoch((train.size() + s.batchSize() - 1) / s.batchSize())
                .optOnStep(logLoss(name, s));
    }

    /** A step listener that prints {@code [name] step N  loss L} every {@code s.logEvery()} steps. */
    public static TrainLoop.StepListener logLoss(String name, Settings s) {
        return (step, epoch, loss) -> {
            if (s.logEvery() > 0 && step % s.logEvery() == 0) {
                System.out.printf(
                        Locale.ROOT, "\r[%s] step %4d  loss %.4f%30s%n", name, step, loss, "");
            }
        };
    }

    /** Test and shifted-test accuracy of a saved adapter reloaded onto a freshly loaded model. */
    public static double[] evaluateSaved(
            ModelFactory factory,
            Path adapter,
            TextSplits splits,
            HuggingFaceTokenizer tokenizer,
            Settings s)
            throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertForSequenceClassification fresh = factory.load(manager, splits.labelNames().size());
            PeftModel reloaded = PeftModel.load(fresh, adapter);
            double test =
                    TextClassifiers.accuracy(
                            reloaded.root(),
                            evaluationBatches(splits, TextSplits.TEST, tokenizer, s),
                            manager);
            double shift =
                    splits.splits().containsKey(TextSplits.TEST_SHIFT)
                            ? TextClassifiers.accuracy(
                                    reloaded.root(),
                                    evaluationBatches(splits, TextSplits.TEST_SHIFT, tokenizer, s),
                                    manager)
                            : Double.NaN;
            return new double[] {test, shift};
        }
    }

    static TextBatcher evaluationBatches(
            TextSplits splits, String split, HuggingFaceTokenizer tokenizer, Settings s) {
        return TextClassifiers.batches(splits.split(split), tokenizer, 32, false, s.seed());
    }

    private static void writeAccuracies(Path file, List<Double> accuracies) {
        JsonObject o = new JsonObject();
        JsonArray a = new JsonArray();
        accuracies.forEach(a::add);
        o.add("accuracies", a);
        try {
            JsonIO.writeSorted(file, o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Saves for the original MiniLM: PiSSA and LoRA-GA adapters are converted to plain LoRA. */
    private static void save(PeftModel pm, Path dir) {
        try {
            pm.save(dir, SaveOption.FOR_ORIGINAL_BASE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static double mean(List<Float> values) {
        double sum = 0;
        for (float v : values) {
            sum += v;
        }
        return values.isEmpty() ? Double.NaN : sum / values.size();
    }
}
