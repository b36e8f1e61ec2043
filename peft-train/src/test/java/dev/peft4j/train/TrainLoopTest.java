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
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SimpleCompositeLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.core.testing.ManagedTest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
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
                                            .addLoss(Loss.l2Loss())
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
}
