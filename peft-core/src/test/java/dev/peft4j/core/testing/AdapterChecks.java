package dev.peft4j.core.testing;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.translate.TranslateException;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.NativeArrays;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.core.tree.EmbeddingTable;
import dev.peft4j.core.tree.ModuleTree;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The checks every adapter method must pass on every tiny model (PEFT's test matrix). A method
 * joins by adding one row to {@link MethodCatalogue}.
 */
public final class AdapterChecks {

    /** Tolerance of merged vs unmerged forward, relative. */
    public static final double MERGE_RTOL = 1e-4;

    /** Tolerance of the base weights after merge then unmerge, absolute. */
    public static final double UNMERGE_ATOL = 1e-6;

    /** Tolerance of the forward after save then load, relative. */
    public static final double ROUND_TRIP_RTOL = 1e-5;

    private AdapterChecks() {}

    /**
     * Whether the row's method can adapt every layer its config selects on the model (LoRA cannot
     * adapt the CNN's grouped, dilated convolution, so the matrix skips it on the CNN).
     */
    public static boolean supports(Entry row, TinyModel model) {
        AdapterConfig config = row.tinyConfig(model.targets());
        for (Map.Entry<String, Block> e : ModuleTree.modules(model.block()).entrySet()) {
            Block b = e.getValue();
            boolean layer =
                    b instanceof Linear || b instanceof Conv2d || b instanceof EmbeddingTable;
            if (layer
                    && config.selects(e.getKey(), b instanceof Linear)
                    && config.cannotAdapt(BaseLayer.of(b, e.getKey()), e.getKey()) != null) {
                return false;
            }
        }
        return true;
    }

    /** Gives every trainable adapter parameter seeded random values, so the adapter changes outputs. */
    public static void randomizeAdapters(PeftModel pm, String adapter, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (Adapter a : pm.adapters(adapter).values()) {
            for (Parameter p : a.getDirectParameters().values()) {
                if (!p.requiresGradient()) {
                    continue;
                }
                float[] v = new float[(int) p.getArray().size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((rnd.nextDouble() - 0.5) * 0.2);
                }
                p.getArray().set(v);
            }
        }
    }

    /** A copy of every parameter's values by DJL parameter name. */
    public static Map<String, float[]> snapshot(Block block) {
        Map<String, float[]> out = new LinkedHashMap<>();
        block.getParameters()
                .forEach(p -> out.put(p.getKey(), p.getValue().getArray().toFloatArray()));
        return out;
    }

    /** Builds a model with the row's adapter on it, randomized. */
    public static PeftModel adapted(TinyModel model, Entry row, long seed) {
        PeftModel pm = PeftModel.create(model.block(), row.tinyConfig(model.targets()));
        randomizeAdapters(pm, PeftModel.DEFAULT, seed);
        return pm;
    }

    /** Merging the adapter into the weights leaves the output unchanged. */
    public static void mergedEqualsUnmerged(TinyModel model, Entry row, NDManager m) {
        PeftModel pm = adapted(model, row, 11);
        NDArray x = TinyModels.input(m, model.inputShape(), 5);
        NDArray unmerged = TinyModels.forward(pm.root(), x);
        pm.merge();
        NDArray merged = TinyModels.forward(pm.root(), x);
        assertAlmostEquals(merged, unmerged, MERGE_RTOL, 1e-6);
        NDArray base = baseOutput(pm, x);
        assertFalse(
                allClose(base, unmerged, 1e-4), "the randomized adapter must change the output");
    }

    /** Unmerging restores the base weights. */
    public static void unmergeRestoresBase(TinyModel model, Entry row, NDManager m) {
        Map<String, float[]> before = snapshot(model.block());
        PeftModel pm = adapted(model, row, 12);
        pm.merge();
        pm.unmerge();
        Block plain = pm.unload();
        Map<String, float[]> after = snapshot(plain);
        assertEquals(before.keySet(), after.keySet());
        before.forEach((k, v) -> assertAlmostEquals(after.get(k), v, 0, UNMERGE_ATOL));
    }

    /** Disabling the adapter gives the base model's output bit for bit. */
    public static void disabledGivesBase(TinyModel model, Entry row, NDManager m) {
        NDArray x = TinyModels.input(m, model.inputShape(), 6);
        float[] base = TinyModels.forward(model.block(), x).toFloatArray();
        PeftModel pm = adapted(model, row, 13);
        pm.disableAdapters();
        assertArrayEquals(base, TinyModels.forward(pm.root(), x).toFloatArray());
        pm.enableAdapters();
        assertFalse(allClose(m.create(base), TinyModels.forward(pm.root(), x).flatten(), 1e-4));
    }

    /** The trainable count equals the method's formula summed over adapted layers. */
    public static void trainableCountMatchesFormula(TinyModel model, Entry row) {
        PeftModel pm = PeftModel.create(model.block(), row.tinyConfig(model.targets()));
        long expected = 0;
        for (Map.Entry<String, Adapter> e : pm.adapters(PeftModel.DEFAULT).entrySet()) {
            expected += row.tinyCount(model.targets(), e.getKey(), e.getValue().base());
        }
        assertTrue(expected > 0);
        assertEquals(expected, pm.trainableParameterCount());
        long base = 0;
        for (Parameter p : pm.root().getParameters().values()) {
            base += p.getArray().size();
        }
        assertEquals(base, pm.totalParameterCount());
    }

    /** After training steps only adapter parameters changed, and every one of them did. */
    public static void onlyAdapterParametersTrain(TinyModel model, Entry row, NDManager m)
            throws IOException, TranslateException {
        PeftModel pm = adapted(model, row, 14);
        List<String> adapterParams = new ArrayList<>();
        pm.root()
                .getParameters()
                .forEach(
                        p -> {
                            if (p.getValue().requiresGradient()) {
                                adapterParams.add(p.getKey());
                            }
                        });
        Map<String, float[]> before = snapshot(pm.root());
        NDArray x = TinyModels.input(m, model.inputShape(), 7);
        NDArray y;
        try (Model djl = Model.newInstance("tiny")) {
            djl.setBlock(pm.root());
            y = TinyModels.forward(pm.root(), x).mul(-1).add(0.5);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(new SafeL2Loss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-2f))
                                            .build());
            try (Trainer trainer = pm.newTrainer(djl, cfg)) {
                ArrayDataset data =
                        new ArrayDataset.Builder()
                                .setData(x)
                                .optLabels(y)
                                .setSampling((int) model.inputShape().get(0), false)
                                .build();
                float first = loss(trainer, x, y);
                easyTrain(trainer, data, 6, batch -> {});
                float last = loss(trainer, x, y);
                assertTrue(last < first, "loss must fall: " + first + " -> " + last);
            }
        }
        Map<String, float[]> after = snapshot(pm.root());
        for (Map.Entry<String, float[]> e : before.entrySet()) {
            boolean changed = !Arrays.equals(e.getValue(), after.get(e.getKey()));
            assertEquals(adapterParams.contains(e.getKey()), changed, "parameter " + e.getKey());
        }
    }

    /**
     * Deleting an adapter frees every array it allocated (a second adapter added and deleted
     * leaves the model's managers with exactly the arrays they had), and unloading frees every
     * adapter array (the managers hold only the base model's arrays again).
     */
    public static void deleteAndUnloadFreeWhatTheAdapterAllocated(
            TinyModel model, Entry row, NDManager m) {
        int base = m.getManagedArrays().size();
        PeftModel pm = PeftModel.create(model.block(), row.tinyConfig(model.targets()));
        int one = m.getManagedArrays().size();
        pm.addAdapter("extra", row.tinyConfig(model.targets()));
        assertTrue(m.getManagedArrays().size() > one, "the second adapter allocated arrays");
        pm.deleteAdapter("extra");
        assertEquals(one, m.getManagedArrays().size(), "arrays left by the deleted adapter");
        pm.unload();
        assertEquals(base, m.getManagedArrays().size(), "arrays left after unloading");
    }

    /**
     * A training forward and backward, and an inference forward, on arrays of a sub-manager leave
     * no array on the model's manager once that sub-manager is closed: every temporary belongs to
     * the pass, so a long run keeps flat memory. It fails when an adapter computes on its
     * parameters first ({@code a.transpose()}, {@code m.div(n)}): DJL attaches an operation's
     * result to its first operand's manager, the model's.
     */
    public static void passesLeaveNothingOnTheModel(TinyModel model, Entry row, NDManager m) {
        PeftModel pm = adapted(model, row, 17);
        for (boolean training : new boolean[] {true, false}) {
            int before = m.getManagedArrays().size();
            try (NDManager pass = m.newSubManager();
                    GradientCollector gc = pass.getEngine().newGradientCollector()) {
                NDArray x = TinyModels.input(pass, model.inputShape(), 3);
                NDArray y =
                        pm.root()
                                .forward(new ParameterStore(pass, false), new NDList(x), training)
                                .singletonOrThrow();
                if (training) {
                    gc.backward(y.sum());
                }
            }
            assertEquals(
                    before,
                    m.getManagedArrays().size(),
                    (training ? "training" : "inference") + " pass left arrays on the model");
        }
    }

    /**
     * Training does not depend on when the garbage collector runs: four Adam steps give the same
     * weights bit for bit whether or not every direct buffer that became unreachable is freed right
     * before each backward pass (what a collection at an unlucky moment does). It fails when
     * backward reads memory of an array closed during the forward pass, such as the scalar of
     * DJL's {@code x.mul(Number)}.
     */
    public static void trainingDoesNotDependOnTheGarbageCollector(
            Supplier<TinyModel> fresh, Entry row) {
        Map<String, float[]> plain = trainSteps(fresh.get(), row, false);
        Map<String, float[]> collected = trainSteps(fresh.get(), row, true);
        assertEquals(plain.keySet(), collected.keySet());
        plain.forEach((k, v) -> assertArrayEquals(v, collected.get(k), "parameter " + k));
    }

    private static Map<String, float[]> trainSteps(TinyModel model, Entry row, boolean collect) {
        Engine.getInstance().setRandomSeed(5); // dropout draws from the engine's generator
        PeftModel pm = adapted(model, row, 16);
        try (NDManager m = NDManager.newBaseManager();
                Model djl = Model.newInstance("gc")) {
            NDArray x = TinyModels.input(m, model.inputShape(), 9);
            NDArray y = TinyModels.input(m, TinyModels.forward(pm.root(), x).getShape(), 10);
            djl.setBlock(pm.root());
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(new SafeL2Loss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-2f))
                                            .build());
            try (Trainer trainer = pm.newTrainer(djl, cfg)) {
                for (int step = 0; step < 4; step++) {
                    try (NDManager scope = m.newSubManager();
                            GradientCollector gc = trainer.newGradientCollector()) {
                        NDArray in = x.duplicate();
                        in.attach(scope);
                        NDList pred = trainer.forward(new NDList(in));
                        NDArray loss = trainer.getLoss().evaluate(new NDList(y), pred);
                        if (collect) {
                            NativeArrays.freeUnreachableBuffers();
                        }
                        gc.backward(loss);
                    }
                    trainer.step();
                }
            }
        }
        return snapshot(pm.root());
    }

    /**
     * Saving the adapter and loading it onto a fresh copy of the base model gives the same output
     * and the same config.
     */
    public static void saveLoadRoundTrip(
            Supplier<TinyModel> fresh, Entry row, NDManager m, Path dir) throws IOException {
        TinyModel model = fresh.get();
        PeftModel pm = adapted(model, row, 15);
        NDArray x = TinyModels.input(m, model.inputShape(), 8);
        NDArray expected = TinyModels.forward(pm.root(), x);
        pm.save(dir);
        PeftModel loaded = PeftModel.load(fresh.get().block(), dir);
        assertEquals(
                pm.config(PeftModel.DEFAULT).toJson(), loaded.config(PeftModel.DEFAULT).toJson());
        assertAlmostEquals(TinyModels.forward(loaded.root(), x), expected, ROUND_TRIP_RTOL, 1e-7);
        assertEquals(pm.trainableParameterCount(), loaded.trainableParameterCount());
    }

    /**
     * Trains with DJL's own loop ({@code EasyTrain.trainBatch}, then {@code trainer.step()}), so
     * that no peft4j training code is involved; {@code beforeStep} sees each batch first.
     */
    public static void easyTrain(
            Trainer trainer, Dataset data, int epochs, Consumer<Batch> beforeStep)
            throws IOException, TranslateException {
        for (int epoch = 0; epoch < epochs; epoch++) {
            for (Batch batch : trainer.iterateDataset(data)) {
                try (batch) {
                    beforeStep.accept(batch);
                    EasyTrain.trainBatch(trainer, batch);
                    trainer.step();
                }
            }
        }
    }

    private static float loss(Trainer trainer, NDArray x, NDArray y) {
        return trainer.getLoss()
                .evaluate(new NDList(y), trainer.evaluate(new NDList(x)))
                .getFloat();
    }

    private static NDArray baseOutput(PeftModel pm, NDArray x) {
        pm.unmerge();
        pm.disableAdapters();
        NDArray out = TinyModels.forward(pm.root(), x);
        pm.enableAdapters();
        return out;
    }

    private static boolean allClose(NDArray a, NDArray b, double atol) {
        double[] x = NdAssert.toDoubles(a);
        double[] y = NdAssert.toDoubles(b);
        for (int i = 0; i < x.length; i++) {
            if (Math.abs(x[i] - y[i]) > atol) {
                return false;
            }
        }
        return true;
    }
}
