package dev.peft4j.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.listener.TrainingListener.BatchData;
import ai.djl.training.util.ProgressBar;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import dev.peft4j.core.Finiteness;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The common fine-tuning loop on DJL's own {@link Trainer}: epochs over a dataset, one gradient
 * step per batch with the trainer's loss (a {@code SimpleCompositeLoss} carries extra terms such as
 * PEGO's regularizer: {@code PeftModel.trainingLoss}), per-step loss, a progress bar (silenced by
 * {@code DJL_DISABLE_PROGRESS_BAR=true}), an optional validation set and an optional callback per
 * step and epoch.
 *
 * <p>The trainer's {@link TrainingListener}s are notified as DJL's {@code EasyTrain.fit} notifies
 * them: {@code onTrainingBatch} after every training batch (with its labels and predictions),
 * {@code onValidationBatch} for every batch of the validation set after each epoch, then
 * {@code onEpoch}; so DJL's evaluators, loggers and user listeners work unchanged. (The trainer
 * itself calls {@code onTrainingBegin} and {@code onTrainingEnd}.)
 *
 * <p>A step whose loss is NaN or infinite is not applied: its gradients are zeroed, the optimizer
 * does not step, a warning names the step, and training goes on with the next batch (as a mixed
 * precision loss scaler skips overflowing steps). More than {@code optMaxSkippedSteps} (default 3)
 * such steps in a row stop the run with an error, so a diverged run fails instead of looping. This
 * guards against training that really diverges; a NaN that comes and goes between runs of one
 * seed is a bug, which the diagnostic mode ({@link Diagnostics}, {@code -Dpeft4j.diagnostics=true})
 * makes show at once.
 */
public final class TrainLoop {

    private static final Logger LOG = LoggerFactory.getLogger(TrainLoop.class);

    /** Called after every optimizer step. */
    @FunctionalInterface
    public interface StepListener {
        /** {@code step} counts from 1 over the whole run. */
        void onStep(int step, int epoch, float loss);
    }

    /** Called after every epoch, e.g. to validate and keep the best adapter. */
    @FunctionalInterface
    public interface EpochListener {
        /** {@code epoch} counts from 1. */
        void onEpoch(int epoch, List<Float> epochLosses);
    }

    private final Trainer trainer;
    private final Dataset data;
    private final int epochs;
    private final int maxSteps;
    private final Dataset validation;
    private final TrainingCheckpoints checkpoints;
    private final StepListener onStep;
    private final EpochListener onEpoch;
    private final boolean progress;
    private final long stepsPerEpoch;
    private final int maxSkippedSteps;
    private int skippedSteps;

    private TrainLoop(Builder b) {
        this.trainer = b.trainer;
        this.data = b.data;
        this.epochs = b.epochs;
        this.maxSteps = b.maxSteps;
        this.validation = b.validation;
        this.checkpoints = b.checkpoints;
        this.onStep = b.onStep;
        this.onEpoch = b.onEpoch;
        this.progress = b.progress;
        this.maxSkippedSteps = b.maxSkippedSteps;
        this.stepsPerEpoch = b.stepsPerEpoch;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Runs the loop and returns the loss of every step (NaN or infinite for a skipped step). */
    public List<Float> run() {
        List<Float> losses = new ArrayList<>();
        int step = 0;
        int inARow = 0;
        float lastFinite = Float.NaN;
        TrainingCheckpoints.Position resumed = resume();
        if (resumed != null) {
            step = resumed.step();
            losses.addAll(resumed.losses());
        }
        int lastSaved = step;
        int[] at = {1, 0}; // epoch and batches done of the last step
        for (int epoch = 1; epoch <= epochs && step < maxSteps; epoch++) {
            if (resumed != null && epoch < resumed.epoch()) {
                batches().iterator(); // the sampler draws this epoch's order: the next one follows
                continue;
            }
            int skip = resumed != null && epoch == resumed.epoch() ? resumed.batchesDone() : 0;
            List<Float> epochLosses = new ArrayList<>();
            int inEpoch = 0;
            ProgressBar bar =
                    progress && stepsPerEpoch() > 1
                            ? new ProgressBar("Epoch " + epoch, stepsPerEpoch())
                            : null;
            boolean dueAtEpochEnd = false;
            Iterator<Batch> it = batches().iterator();
            while (it.hasNext()) {
                Batch batch = it.next();
                if (inEpoch < skip) { // done before the checkpoint this run resumed from
                    batch.close();
                    inEpoch++;
                    continue;
                }
                try (batch) {
                    if (checkpoints != null) {
                        Engine.getInstance().setRandomSeed(checkpoints.seedFor(step + 1));
                    }
                    float loss = step(batch);
                    step++;
                    inEpoch++;
                    losses.add(loss);
                    at[0] = epoch;
                    at[1] = inEpoch;
                    if (Float.isFinite(loss)) {
                        inARow = 0;
                        lastFinite = loss;
                        epochLosses.add(loss);
                    } else {
                        inARow++;
                        if (inARow > maxSkippedSteps) {
                            throw new IllegalStateException(
                                    String.format(
                                            Locale.ROOT,
                                            "The training loss is %s at step %d (epoch %d), %d"
                                                + " steps in a row%s: stopping (lower the learning"
                                                + " rate or check the data)",
                                            loss,
                                            step,
                                            epoch,
                                            inARow,
                                            Float.isNaN(lastFinite)
                                                    ? ""
                                                    : "; the last finite loss was " + lastFinite));
                        }
                        LOG.warn(
                                "Training loss is {} at step {} (epoch {}): the update was skipped"
                                        + " ({} in a row, at most {})",
                                loss,
                                step,
                                epoch,
                                inARow,
                                maxSkippedSteps);
                    }
                    if (bar != null) {
                        bar.update(inEpoch, String.format(Locale.ROOT, "loss %.4f", loss));
                    }
                    if (onStep != null) {
                        onStep.onStep(step, epoch, loss);
                    }
                    if (checkpoints != null
                            && (step % checkpoints.every() == 0 || step >= maxSteps)) {
                        if (it.hasNext()) {
                            // mid-epoch (also when the step cap stops the run here: a resumed
                            // run with a higher cap goes on with this epoch's next batch)
                            checkpoint(step, epoch, inEpoch, losses);
                            lastSaved = step;
                        } else {
                            // the epoch's last step: save after its validation and listeners,
                            // so a resumed run starts at the next epoch instead of replaying them
                            dueAtEpochEnd = true;
                        }
                    }
                }
                if (step >= maxSteps) {
                    break;
                }
            }
            if (bar != null) {
                bar.end();
            }
            if (validation != null) {
                validate();
            }
            trainer.notifyListeners(listener -> listener.onEpoch(trainer));
            if (onEpoch != null) {
                onEpoch.onEpoch(epoch, epochLosses);
            }
            if (dueAtEpochEnd) {
                checkpoint(step, epoch + 1, 0, losses);
                lastSaved = step;
            }
            at[0] = epoch + 1;
            at[1] = 0;
        }
        if (checkpoints != null && lastSaved < step) {
            checkpoint(step, at[0], at[1], losses);
        }
        return losses;
    }

    private TrainingCheckpoints.Position resume() {
        if (checkpoints == null) {
            return null;
        }
        try {
            return checkpoints.resume(trainer.getModel().getBlock(), trainer.getManager());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void checkpoint(int step, int epoch, int batchesDone, List<Float> losses) {
        try {
            checkpoints.save(trainer.getModel().getBlock(), step, epoch, batchesDone, losses);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Steps skipped so far in this loop because their loss was not finite. */
    public int skippedSteps() {
        return skippedSteps;
    }

    /**
     * One gradient step on one batch; returns the loss before the step. A non-finite loss is not
     * applied: the gradients are zeroed and the optimizer does not step.
     */
    public float step(Batch batch) {
        float value;
        BatchData batchData =
                new BatchData(batch, new ConcurrentHashMap<>(), new ConcurrentHashMap<>());
        try (GradientCollector gc = trainer.newGradientCollector()) {
            NDList labels = batch.getLabels();
            NDList preds = trainer.forward(batch.getData(), labels);
            NDArray loss = trainer.getLoss().evaluate(labels, preds);
            if (Diagnostics.enabled()) {
                Diagnostics.freeUnreachableBuffers();
            }
            gc.backward(loss);
            value = loss.getFloat();
            batchData.getLabels().put(labels.head().getDevice(), labels);
            batchData.getPredictions().put(preds.head().getDevice(), preds);
        }
        trainer.notifyListeners(listener -> listener.onTrainingBatch(trainer, batchData));
        if (Diagnostics.enabled()) {
            Diagnostics.requireFiniteGradients(trainer.getModel().getBlock(), value);
        }
        if (Float.isFinite(value)) {
            trainer.step();
            requireFiniteParameters(value);
        } else {
            skippedSteps++;
            zeroGradients();
        }
        return value;
    }

    /**
     * After an optimizer step from a finite loss, every trainable parameter must still be finite
     * (an overflowing update would otherwise poison the next step): an error names each one that
     * is not.
     */
    private void requireFiniteParameters(float loss) {
        List<String> bad = new ArrayList<>();
        for (Pair<String, Parameter> p : trainer.getModel().getBlock().getParameters()) {
            if (p.getValue().requiresGradient() && !Finiteness.isFinite(p.getValue().getArray())) {
                bad.add(p.getKey());
            }
        }
        if (!bad.isEmpty()) {
            throw new IllegalStateException(
                    "The optimizer step from a finite loss ("
                            + loss
                            + ") left NaN or Inf in "
                            + bad
                            + ": lower the learning rate or check the data");
        }
    }

    /** Sets every trainable gradient to zero (NaN - NaN and 0 * NaN are NaN, so by assignment). */
    private void zeroGradients() {
        for (Parameter p : trainer.getModel().getBlock().getParameters().values()) {
            NDArray array = p.getArray();
            if (array.hasGradient()) {
                try (NDArray g = array.getGradient()) {
                    g.set(new NDIndex("..."), 0);
                }
            }
        }
    }

    /** Evaluates the validation set batch by batch for the listeners, as {@code EasyTrain.evaluateDataset}. */
    private void validate() {
        for (Batch batch : batches(validation)) {
            try (batch) {
                EasyTrain.validateBatch(trainer, batch);
            }
        }
    }

    private Iterable<Batch> batches() {
        return batches(data);
    }

    private Iterable<Batch> batches(Dataset dataset) {
        try {
            return trainer.iterateDataset(dataset);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("Cannot read the training data", e);
        }
    }

    private long stepsPerEpoch() {
        if (stepsPerEpoch > 0) {
            return stepsPerEpoch;
        }
        return maxSteps == Integer.MAX_VALUE ? 0 : maxSteps;
    }

    /** Builds a {@link TrainLoop}. */
    public static final class Builder {
        private Trainer trainer;
        private Dataset data;
        private int epochs = 1;
        private int maxSteps = Integer.MAX_VALUE;
        private Dataset validation;
        private TrainingCheckpoints checkpoints;
        private StepListener onStep;
        private EpochListener onEpoch;
        private boolean progress = true;
        private long stepsPerEpoch;
        private int maxSkippedSteps = 3;

        private Builder() {}

        /** How many steps in a row may have a non-finite loss (skipped) before the run stops (default 3; 0 stops at the first). */
        public Builder optMaxSkippedSteps(int steps) {
            this.maxSkippedSteps = steps;
            return this;
        }

        /** Batches per epoch, for the progress bar (without it the bar shows only under optMaxSteps). */
        public Builder optStepsPerEpoch(long steps) {
            this.stepsPerEpoch = steps;
            return this;
        }

        /** The trainer (from {@code PeftModel.newTrainer}); required. */
        public Builder setTrainer(Trainer trainer) {
            this.trainer = trainer;
            return this;
        }

        /** The training data; required. */
        public Builder setTrainData(Dataset data) {
            this.data = data;
            return this;
        }

        /** Number of passes over the data (default 1). */
        public Builder optEpochs(int epochs) {
            this.epochs = epochs;
            return this;
        }

        /** Stops after this many steps in total. */
        public Builder optMaxSteps(int maxSteps) {
            this.maxSteps = maxSteps;
            return this;
        }

        /**
         * Resumable checkpoints ({@link TrainingCheckpoints}): written every {@code every} steps
         * and at the end, and, when asked, the run starts from the newest one. The engine is then
         * reseeded before every step, so dropout draws the same masks in a resumed run.
         */
        public Builder optCheckpoints(TrainingCheckpoints checkpoints) {
            this.checkpoints = checkpoints;
            return this;
        }

        /**
         * A validation set, run through the trainer's listeners ({@code onValidationBatch}) after
         * each epoch, as {@code EasyTrain.fit} does (its loss and evaluators go to DJL's
         * validation metrics); none by default.
         */
        public Builder optValidationData(Dataset validation) {
            this.validation = validation;
            return this;
        }

        /** Called after each step. */
        public Builder optOnStep(StepListener onStep) {
            this.onStep = onStep;
            return this;
        }

        /** Called after each epoch. */
        public Builder optOnEpoch(EpochListener onEpoch) {
            this.onEpoch = onEpoch;
            return this;
        }

        /** Shows a progress bar per epoch (default true). */
        public Builder optProgress(boolean progress) {
            this.progress = progress;
            return this;
        }

        /** Builds the loop. */
        public TrainLoop build() {
            if (trainer == null || data == null) {
                throw new IllegalArgumentException("TrainLoop needs setTrainer and setTrainData");
            }
            if (epochs <= 0 || maxSteps <= 0) {
                throw new IllegalArgumentException("epochs and maxSteps must be positive");
            }
            return new TrainLoop(this);
        }
    }
}
