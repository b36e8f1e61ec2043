package dev.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.listener.EvaluatorTrainingListener;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.listener.TrainingListener.BatchData;
import ai.djl.training.listener.TrainingListenerAdapter;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SimpleCompositeLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.SafeL2Loss;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A step whose loss is not finite leaves no trace: training with a NaN injected at some steps ends
 * with exactly the weights of training on the other batches only (plain SGD, so no optimizer
 * state); too many such steps in a row stop the run.
 */
class TrainLoopTest extends ManagedTest {

    private static final int BATCH = 4;

    private ArrayDataset data(int... batches) {
        float[] all = new float[8 * BATCH * 3];
        for (int i = 0; i < all.length; i++) {
            all[i] = (float) Math.sin(0.37 * i + 1);
        }
        float[] x = new float[batches.length * BATCH * 3];
        for (int b = 0; b < batches.length; b++) {
            System.arraycopy(all, batches[b] * BATCH * 3, x, b * BATCH * 3, BATCH * 3);
        }
        NDArray features = manager.create(x, new Shape(batches.length * BATCH, 3));
        NDArray labels = features.sum(new int[] {1}, true).mul(0.5f);
        return new ArrayDataset.Builder()
                .setData(features)
                .optLabels(labels)
                .setSampling(BATCH, false)
                .build();
    }

    /** Trains a fresh Linear(1) from fixed weights; returns the final weights. {@code nanAt} steps get a NaN loss. */
    private float[] train(
            ArrayDataset data, Set<Integer> nanAt, List<Float> losses, int maxSkipped) {
        Block block = Linear.builder().setUnits(1).build();
        block.initialize(manager, DataType.FLOAT32, new Shape(BATCH, 3));
        block.getParameters().get("weight").getArray().set(new float[] {0.3f, -0.2f, 0.1f});
        block.getParameters().get("bias").getArray().set(new float[] {0.05f});
        int[] step = {0};
        Loss poison =
                new Loss("poison") {
                    @Override
                    public NDArray evaluate(NDList labels, NDList preds) {
                        step[0]++;
                        // NaN in the loss and in every gradient when poisoned, exactly 0 otherwise
                        return preds.head().sum().mul(nanAt.contains(step[0]) ? Float.NaN : 0f);
                    }
                };
        try (Model model = Model.newInstance("loop")) {
            model.setBlock(block);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(
                                    new SimpleCompositeLoss()
                                            .addLoss(new SafeL2Loss())
                                            .addLoss(poison))
                            .optOptimizer(
                                    Optimizer.sgd()
                                            .setLearningRateTracker(Tracker.fixed(0.1f))
                                            .build());
            try (Trainer trainer = model.newTrainer(cfg)) {
                TrainLoop loop =
                        TrainLoop.builder()
                                .setTrainer(trainer)
                                .setTrainData(data)
                                .optProgress(false)
                                .optMaxSkippedSteps(maxSkipped)
                                .build();
                losses.addAll(loop.run());
                assertEquals(nanAt.size(), loop.skippedSteps());
            }
        }
        float[] w = block.getParameters().get("weight").getArray().toFloatArray();
        float[] b = block.getParameters().get("bias").getArray().toFloatArray();
        return new float[] {w[0], w[1], w[2], b[0]};
    }

    @Test
    void aNonFiniteStepIsSkippedWithoutATrace() {
        List<Float> losses = new ArrayList<>();
        float[] skipped = train(data(0, 1, 2, 3, 4), Set.of(2, 4), losses, 3);
        float[] reference = train(data(0, 2, 4), Set.of(), new ArrayList<>(), 3);
        assertEquals(5, losses.size());
        assertTrue(Float.isNaN(losses.get(1)) && Float.isNaN(losses.get(3)), losses.toString());
        assertTrue(
                Float.isFinite(losses.get(0))
                        && Float.isFinite(losses.get(2))
                        && Float.isFinite(losses.get(4)));
        assertArrayEquals(reference, skipped, 0f);
        float[] untouched = train(data(0), Set.of(), new ArrayList<>(), 3);
        assertTrue(untouched[0] != reference[0], "the steps did move the weights");
    }

    @Test
    void tooManyNonFiniteStepsInARowStopTheRun() {
        IllegalStateException e =
                assertThrows(
                        IllegalStateException.class,
                        () -> train(data(0, 1, 2, 3, 4), Set.of(2, 3, 4), new ArrayList<>(), 2));
        assertTrue(
                e.getMessage().contains("step 4") && e.getMessage().contains("3 steps in a row"),
                e.getMessage());
        assertTrue(e.getMessage().contains("last finite loss"), e.getMessage());
    }

    /** An update that overflows a weight from a finite loss is an error naming the weight. */
    @Test
    void anOverflowingUpdateIsAnErrorNamingTheParameter() {
        Block block = Linear.builder().setUnits(1).build();
        block.initialize(manager, DataType.FLOAT32, new Shape(BATCH, 3));
        block.getParameters().get("weight").getArray().set(new float[] {0.3f, -0.2f, 0.1f});
        block.getParameters().get("bias").getArray().set(new float[] {0.05f});
        try (Model model = Model.newInstance("overflow")) {
            model.setBlock(block);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(new SafeL2Loss())
                            .optOptimizer(
                                    Optimizer.sgd()
                                            .setLearningRateTracker(Tracker.fixed(1e36f))
                                            .build());
            try (Trainer trainer = model.newTrainer(cfg)) {
                TrainLoop loop =
                        TrainLoop.builder()
                                .setTrainer(trainer)
                                .setTrainData(
                                        new ArrayDataset.Builder()
                                                .setData(manager.full(new Shape(BATCH, 3), 10f))
                                                .optLabels(manager.full(new Shape(BATCH, 1), 1e3f))
                                                .setSampling(BATCH, false)
                                                .build())
                                .optProgress(false)
                                .build();
                // the loss, 0.5 (1e3 - w.x)^2, is finite; the gradient, about 1e4, times 1e36 is
                // not
                IllegalStateException e = assertThrows(IllegalStateException.class, loop::run);
                assertTrue(
                        e.getMessage().contains("weight") && e.getMessage().contains("NaN or Inf"),
                        e.getMessage());
            }
        }
    }

    /**
     * The loop notifies DJL's listeners as {@code EasyTrain.fit} does: the same events in the same
     * order, the same evaluator results (DJL's {@code EvaluatorTrainingListener} with the loss and
     * an L1 evaluator, on training and validation data) and the same weights.
     */
    @Test
    void listenersAndEvaluatorsSeeWhatEasyTrainFitShows() throws Exception {
        List<String> loopEvents = new ArrayList<>();
        Map<String, Float> loopResult = new TreeMap<>();
        float[] loop = trainWithListeners(loopEvents, loopResult, true);
        List<String> fitEvents = new ArrayList<>();
        Map<String, Float> fitResult = new TreeMap<>();
        float[] fit = trainWithListeners(fitEvents, fitResult, false);
        assertEquals(fitEvents, loopEvents);
        assertEquals(fitResult, loopResult);
        assertArrayEquals(fit, loop, 0f);
        // 3 training batches and 2 validation batches per epoch, 2 epochs, begin and end
        assertEquals(1 + 2 * (3 + 2 + 1) + 1, loopEvents.size(), loopEvents.toString());
        assertTrue(
                loopResult.containsKey("validate_L1Loss") && loopResult.containsKey("train_loss"),
                loopResult.toString());
    }

    private float[] trainWithListeners(
            List<String> events, Map<String, Float> result, boolean withTrainLoop)
            throws Exception {
        Block block = Linear.builder().setUnits(1).build();
        block.initialize(manager, DataType.FLOAT32, new Shape(BATCH, 3));
        block.getParameters().get("weight").getArray().set(new float[] {0.3f, -0.2f, 0.1f});
        block.getParameters().get("bias").getArray().set(new float[] {0.05f});
        TrainingListener recorder =
                new TrainingListenerAdapter() {
                    @Override
                    public void onTrainingBegin(Trainer trainer) {
                        events.add("begin");
                    }

                    @Override
                    public void onTrainingBatch(Trainer trainer, BatchData batchData) {
                        events.add("train " + batchData.getBatch().getSize());
                    }

                    @Override
                    public void onValidationBatch(Trainer trainer, BatchData batchData) {
                        events.add("validate " + batchData.getBatch().getSize());
                    }

                    @Override
                    public void onEpoch(Trainer trainer) {
                        events.add("epoch");
                    }

                    @Override
                    public void onTrainingEnd(Trainer trainer) {
                        events.add("end");
                    }
                };
        try (Model model = Model.newInstance("listeners")) {
            model.setBlock(block);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(new SafeL2Loss())
                            .addEvaluator(Loss.l1Loss())
                            .addTrainingListeners(new EvaluatorTrainingListener(), recorder)
                            .optOptimizer(
                                    Optimizer.sgd()
                                            .setLearningRateTracker(Tracker.fixed(0.1f))
                                            .build());
            ArrayDataset train = data(0, 1, 2);
            ArrayDataset validation = data(5, 6);
            try (Trainer trainer = model.newTrainer(cfg)) {
                if (withTrainLoop) {
                    TrainLoop.builder()
                            .setTrainer(trainer)
                            .setTrainData(train)
                            .optValidationData(validation)
                            .optEpochs(2)
                            .optProgress(false)
                            .build()
                            .run();
                } else {
                    EasyTrain.fit(trainer, 2, train, validation);
                }
                result.putAll(trainer.getTrainingResult().getEvaluations());
            }
        }
        float[] w = block.getParameters().get("weight").getArray().toFloatArray();
        float[] b = block.getParameters().get("bias").getArray().toFloatArray();
        return new float[] {w[0], w[1], w[2], b[0]};
    }
}
