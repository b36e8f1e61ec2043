package dev.peft4j.adapters.pego;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.loss.SimpleCompositeLoss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.adapters.DenseRef;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.testing.SafeL2Loss;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The PEGO regularizer against a direct dense computation that materializes every {@code dW_i},
 * {@code W dW_i^T} and {@code dW_i dW_j^T} in plain Java, and its gradient and training behaviour.
 */
class PegoRegularizerTest {

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** The MLP's layers 0 ([16, 8]) and 2 ([12, 16]) with a PEGO group of N modules of rank r. */
    private PeftModel pego(TinyModel model, int r, int n, double lambda) {
        return PeftModel.create(
                model.block(),
                PegoConfig.builder()
                        .optRank(r)
                        .optNumLoras(n)
                        .optRegLambda(lambda)
                        .setTargetModules(model.targets().toArray(new String[0]))
                        .build());
    }

    @Test
    void peftModelTrainingLossAddsPegosLossAndIsTheTaskLossForLora() {
        TinyModel model = TinyModels.mlp(manager, 4);
        PeftModel pm = pego(model, 3, 2, 1e-2);
        AdapterChecks.randomizeAdapters(pm, "default", 8);
        NDList preds = new NDList(manager.create(new float[] {0.5f, -1f}));
        NDList labels = new NDList(manager.create(new float[] {1.5f, 1f}));
        double expected = PegoRegularizer.of(pm, "default").loss(manager).getFloat();
        assertTrue(expected > 0);
        // l2Loss = mean(0.5 (label - pred)^2) = (0.5 + 2) / 2
        double task = (0.5 * 1 + 0.5 * 4) / 2;
        assertEquals(
                task + expected,
                pm.trainingLoss(new SafeL2Loss()).evaluate(labels, preds).getFloat(),
                1e-6 * (task + expected));
        PeftModel lora =
                PeftModel.create(
                        TinyModels.mlp(manager, 4).block(),
                        LoraConfig.builder().optRank(2).setTargetModules("0").build());
        Loss l2 = new SafeL2Loss();
        assertSame(l2, lora.trainingLoss(l2));
    }

    /** {@code {L_preserve, L_diversify}} of one layer from its plain matrices. */
    static double[] denseTerms(double[][] w, List<double[][]> as, List<double[][]> bs) {
        List<double[][]> dws = new ArrayList<>();
        for (int i = 0; i < as.size(); i++) {
            dws.add(DenseRef.matMul(bs.get(i), as.get(i)));
        }
        double preserve = 0;
        double diversify = 0;
        for (int i = 0; i < dws.size(); i++) {
            preserve += DenseRef.l1(DenseRef.matMul(w, DenseRef.transpose(dws.get(i))));
            for (int j = i + 1; j < dws.size(); j++) {
                diversify +=
                        DenseRef.l1(DenseRef.matMul(dws.get(i), DenseRef.transpose(dws.get(j))));
            }
        }
        return new double[] {preserve, diversify};
    }

    /** {@code {L_preserve, L_diversify}} summed over the model's PEGO layers, computed densely. */
    private static double[] denseTerms(PeftModel pm) {
        double[] sum = new double[2];
        for (Adapter adapter : pm.adapters(PeftModel.DEFAULT).values()) {
            PegoAdapter a = (PegoAdapter) adapter;
            List<double[][]> as = new ArrayList<>();
            List<double[][]> bs = new ArrayList<>();
            for (int i = 0; i < a.numLoras(); i++) {
                as.add(DenseRef.matrix(a.loraA(i).getArray()));
                bs.add(DenseRef.matrix(a.loraB(i).getArray()));
            }
            double[] t = denseTerms(DenseRef.matrix(a.base().weight().getArray()), as, bs);
            sum[0] += t[0];
            sum[1] += t[1];
        }
        return sum;
    }

    @Test
    void matchesTheDenseComputationOverEveryLayer() {
        PeftModel pm = pego(TinyModels.mlp(manager, 1), 2, 3, 0.01);
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 41);
        PegoRegularizer reg = PegoRegularizer.of(pm, PeftModel.DEFAULT);
        double[] dense = denseTerms(pm);
        assertTrue(dense[0] > 0 && dense[1] > 0);
        assertAlmostEquals(reg.preserve(manager).getFloat(), dense[0], 1e-5, 0);
        assertAlmostEquals(reg.diversify(manager).getFloat(), dense[1], 1e-5, 0);
        assertAlmostEquals(reg.loss(manager).getFloat(), 0.01 * (dense[0] + dense[1]), 1e-5, 0);
        assertEquals(0.01, reg.lambda());
    }

    @Test
    void isZeroAtInit() {
        PegoRegularizer reg =
                PegoRegularizer.of(
                        pego(TinyModels.transformer(manager, 2), 4, 2, 1e-3), PeftModel.DEFAULT);
        assertEquals(0.0f, reg.preserve(manager).getFloat());
        assertEquals(0.0f, reg.diversify(manager).getFloat());
        assertEquals(0.0f, reg.loss(manager).getFloat());
    }

    @Test
    void gradientMatchesCentralDifferencesOfTheDenseLoss() {
        TinyModel model = TinyModels.mlp(manager, 3);
        PeftModel pm =
                PeftModel.create(
                        model.block(),
                        PegoConfig.builder()
                                .optRank(2)
                                .optNumLoras(2)
                                .optRegLambda(1)
                                .setTargetModules("4")
                                .build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 42);
        PegoAdapter a = (PegoAdapter) pm.adapters(PeftModel.DEFAULT).get("4");
        try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
            gc.backward(PegoRegularizer.of(pm, PeftModel.DEFAULT).loss(manager));
        }
        double[][] w = DenseRef.matrix(a.base().weight().getArray());
        List<double[][]> as =
                List.of(
                        DenseRef.matrix(a.loraA(0).getArray()),
                        DenseRef.matrix(a.loraA(1).getArray()));
        List<double[][]> bs =
                List.of(
                        DenseRef.matrix(a.loraB(0).getArray()),
                        DenseRef.matrix(a.loraB(1).getArray()));
        List<double[][]> all = List.of(as.get(0), as.get(1), bs.get(0), bs.get(1));
        Parameter[] params = {a.loraA(0), a.loraA(1), a.loraB(0), a.loraB(1)};
        double eps = 1e-6;
        for (int k = 0; k < params.length; k++) {
            double[][] m = all.get(k);
            double[][] numeric = new double[m.length][m[0].length];
            for (int i = 0; i < m.length; i++) {
                for (int j = 0; j < m[0].length; j++) {
                    double keep = m[i][j];
                    m[i][j] = keep + eps;
                    double[] plus = denseTerms(w, as, bs);
                    m[i][j] = keep - eps;
                    double[] minus = denseTerms(w, as, bs);
                    m[i][j] = keep;
                    numeric[i][j] = (plus[0] + plus[1] - minus[0] - minus[1]) / (2 * eps);
                }
            }
            try (NDArray grad = params[k].getArray().getGradient()) {
                assertAlmostEquals(NdAssert.toDoubles(grad), DenseRef.flat(numeric), 1e-3, 1e-5);
            }
        }
    }

    @Test
    void sgdOnTheRegularizerAloneReducesBothTerms() {
        PeftModel pm = randomGroupsOfThree();
        PegoRegularizer reg = PegoRegularizer.of(pm, PeftModel.DEFAULT);
        double[] start = denseTerms(pm);
        sgd(pm, reg::loss, 10);
        double[] end = denseTerms(pm);
        assertTrue(end[0] < 0.9 * start[0], "L_preserve " + start[0] + " -> " + end[0]);
        assertTrue(end[1] < 0.9 * start[1], "L_diversify " + start[1] + " -> " + end[1]);
    }

    @Test
    void diversifyGradientMakesTheModulesMoreOrthogonalNotJustSmaller() {
        PeftModel pm = randomGroupsOfThree();
        PegoRegularizer reg = PegoRegularizer.of(pm, PeftModel.DEFAULT);
        double[] start = normalizedCross(pm);
        sgd(pm, reg::diversify, 30);
        double[] end = normalizedCross(pm);
        for (int k = 0; k < start.length; k++) {
            assertTrue(end[k] < 0.75 * start[k], "pair " + k + ": " + start[k] + " -> " + end[k]);
        }
    }

    /** The MLP with random groups of three rank-2 modules, lambda 1. */
    private PeftModel randomGroupsOfThree() {
        PeftModel pm = pego(TinyModels.mlp(manager, 4), 2, 3, 1);
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 43);
        return pm;
    }

    /** Plain gradient descent on the adapter's parameters, step 0.01. */
    private void sgd(PeftModel pm, Function<NDManager, NDArray> objective, int steps) {
        for (int step = 0; step < steps; step++) {
            try (NDManager scope = manager.newSubManager();
                    GradientCollector gc = manager.getEngine().newGradientCollector()) {
                gc.backward(objective.apply(scope));
            }
            for (Adapter a : pm.adapters(PeftModel.DEFAULT).values()) {
                for (Parameter p : a.getDirectParameters().values()) {
                    try (NDArray grad = p.getArray().getGradient()) {
                        p.getArray().subi(grad.mul(0.01f));
                        grad.subi(grad);
                    }
                }
            }
        }
    }

    /**
     * Per layer and pair {@code i < j}: {@code sum|dW_i dW_j^T| / (|dW_i|_F |dW_j|_F)}, which
     * does not change when the modules are only scaled down.
     */
    private static double[] normalizedCross(PeftModel pm) {
        List<Double> out = new ArrayList<>();
        for (Adapter adapter : pm.adapters(PeftModel.DEFAULT).values()) {
            PegoAdapter a = (PegoAdapter) adapter;
            List<double[][]> dws = new ArrayList<>();
            for (int i = 0; i < a.numLoras(); i++) {
                dws.add(
                        DenseRef.matMul(
                                DenseRef.matrix(a.loraB(i).getArray()),
                                DenseRef.matrix(a.loraA(i).getArray())));
            }
            for (int i = 0; i < dws.size(); i++) {
                for (int j = i + 1; j < dws.size(); j++) {
                    double cross =
                            DenseRef.l1(
                                    DenseRef.matMul(dws.get(i), DenseRef.transpose(dws.get(j))));
                    out.add(cross / (frobenius(dws.get(i)) * frobenius(dws.get(j))));
                }
            }
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double frobenius(double[][] a) {
        double s = 0;
        for (double[] row : a) {
            for (double v : row) {
                s += v * v;
            }
        }
        return Math.sqrt(s);
    }

    @Test
    void aCompositeLossAddsTheRegularizerAndReducesTheCombinedLoss() throws Exception {
        TinyModel model = TinyModels.mlp(manager, 5);
        PeftModel pm = pego(model, 4, 2, 0.05);
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 44);
        NDArray x = TinyModels.input(manager, model.inputShape(), 6);
        NDArray y = TinyModels.input(manager, new Shape(5, 4), 7);
        double[] terms = denseTerms(pm);
        float task =
                new SafeL2Loss()
                        .evaluate(new NDList(y), new NDList(TinyModels.forward(pm.root(), x)))
                        .getFloat();
        List<Float> losses;
        try (Model djl = Model.newInstance("pego")) {
            djl.setBlock(pm.root());
            // DJL's composition of losses and its own training step: no peft4j training code
            // involved
            Loss combined =
                    new SimpleCompositeLoss()
                            .addLoss(new SafeL2Loss())
                            .addLoss(PegoRegularizer.of(pm, PeftModel.DEFAULT));
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(combined)
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-2f))
                                            .build());
            try (Trainer trainer = pm.newTrainer(djl, cfg)) {
                ArrayDataset data =
                        new ArrayDataset.Builder()
                                .setData(x)
                                .optLabels(y)
                                .setSampling(5, false)
                                .build();
                losses = new ArrayList<>();
                List<Float> seen = losses;
                AdapterChecks.easyTrain(
                        trainer,
                        data,
                        8,
                        batch ->
                                seen.add(
                                        combined.evaluate(
                                                        batch.getLabels(),
                                                        trainer.evaluate(batch.getData()))
                                                .getFloat()));
            }
        }
        assertAlmostEquals(losses.get(0), task + 0.05 * (terms[0] + terms[1]), 1e-5, 0);
        assertTrue(
                0.05 * (terms[0] + terms[1]) > 1e-3 * task,
                "the regularizer must weigh in the first loss");
        assertTrue(
                losses.get(losses.size() - 1) < 0.9 * losses.get(0),
                "combined loss must fall: " + losses);
    }

    @Test
    void refusesOtherMethodsAndMergedAdapters() {
        TinyModel model = TinyModels.mlp(manager, 6);
        PeftModel pm = pego(model, 2, 2, 1e-3);
        pm.addAdapter("lora", LoraConfig.builder().setTargetModules("0").build());
        String msg =
                assertThrows(IllegalArgumentException.class, () -> PegoRegularizer.of(pm, "lora"))
                        .getMessage();
        assertTrue(msg.contains("'lora'") && msg.contains("LORA"), msg);
        PegoRegularizer reg = PegoRegularizer.of(pm, PeftModel.DEFAULT);
        pm.merge();
        msg = assertThrows(IllegalStateException.class, () -> reg.loss(manager)).getMessage();
        assertTrue(msg.contains("unmerge"), msg);
    }
}
