package dev.peft4j.init.loraga;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.Batchifier;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.SafeL2Loss;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.init.InitOptions;
import dev.peft4j.init.LoraInitialization;
import dev.peft4j.init.Planted;
import dev.peft4j.init.ResidualChecks;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA-GA on a one-layer model {@code y = W x} with the L2 loss {@code mean(0.5 (W x - y)^2)},
 * whose gradient is {@code G = E^T X / (N m)} with residuals {@code E = X W^T - Y}. The batch
 * plants G's SVD: X has orthonormal rows {@code v_k^T}, E has rows {@code sigma_k u_k^T}, so {@code
 * G = sum_k sigma_k / (N m) u_k v_k^T} exactly.
 */
class LoraGaTest extends ManagedTest {

    private static final int M = 12;
    private static final int N = 10;
    private static final int R = 2;
    private static final double[] SIGMA = {8, 4, 2, 1};
    private static final int ROWS = SIGMA.length;
    private static final double[][] U = Planted.orthonormal(M, ROWS, 11);
    private static final double[][] V = Planted.orthonormal(N, ROWS, 12);
    private static final double[][] W =
            Planted.product(
                    Planted.orthonormal(M, N, 13),
                    new double[] {3, 2.5, 2, 1.5, 1, 0.8, 0.6, 0.4, 0.2, 0.1},
                    Planted.orthonormal(N, N, 14),
                    N);

    /** The stable scale {@code m^(1/4) / sqrt(16)}. */
    private static final double C = Math.pow(M, 0.25) / 4;

    /** G's singular values: {@code sigma_k / (N m)} with N the batch size. */
    private static double[] gSingular() {
        double[] g = new double[ROWS];
        for (int k = 0; k < ROWS; k++) {
            g[k] = SIGMA[k] / (ROWS * M);
        }
        return g;
    }

    /** One batch: X = V^T (rows v_k^T), Y = X W^T - E with E = diag(sigma) U^T. */
    private Batch batch(double scale) {
        double[][] x = new double[ROWS][N];
        double[][] y = new double[ROWS][M];
        for (int k = 0; k < ROWS; k++) {
            for (int j = 0; j < N; j++) {
                x[k][j] = V[j][k];
            }
            for (int i = 0; i < M; i++) {
                double wx = 0;
                for (int j = 0; j < N; j++) {
                    wx += W[i][j] * x[k][j];
                }
                y[k][i] = wx - scale * SIGMA[k] * U[i][k];
            }
        }
        NDManager batchManager = manager.newSubManager();
        return new Batch(
                batchManager,
                new NDList(Planted.create(batchManager, x)),
                new NDList(Planted.create(batchManager, y)),
                ROWS,
                Batchifier.STACK,
                Batchifier.STACK,
                0,
                1);
    }

    private PeftModel model(String init, String direction) {
        return model(init, direction, LoraGaConfig.PAPER);
    }

    private PeftModel model(String init, String direction, String scale) {
        LoraConfig.Builder b =
                LoraConfig.builder()
                        .optRank(R)
                        .optAlpha(4)
                        .optUseRslora(true)
                        .optInitLoraWeights(init)
                        .setTargetModules("0");
        b.optInitConfig(
                LoraGaConfig.KEY,
                new LoraGaConfig(direction == null ? LoraGaConfig.ARB2R : direction, scale, 16)
                        .toJson());
        return PeftModel.create(Planted.linear(manager, W), b.build());
    }

    private static LoraAdapter layer(PeftModel pm) {
        return (LoraAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
    }

    private void prepare(PeftModel pm, List<Batch> data) {
        LoraInitialization.prepare(
                pm,
                PeftModel.DEFAULT,
                data,
                new SafeL2Loss(),
                InitOptions.defaults().withLoraGaExamples(ROWS * data.size()).withProgress(false));
    }

    /** {@code sum_{k in [from, to)} q_k q_k^T} of the planted singular vectors, scaled. */
    private NDArray projector(double[][] q, int from, int to, double scale) {
        double[] s = new double[q[0].length];
        for (int k = from; k < to; k++) {
            s[k] = scale;
        }
        double[][] shifted = Planted.product(q, s, q, q[0].length);
        return Planted.create(manager, shifted);
    }

    @Test
    void meanGradientOverBatchesMatchesTheDenseFormulaAndLeavesNoTrace() {
        PeftModel pm = model("lora_ga", null);
        LoraAdapter a = layer(pm);
        Parameter w = a.base().weight();
        Map<String, NDArray> g =
                GradientEstimator.meanGradients(
                        pm.root(),
                        Map.of("0", w),
                        List.of(batch(1), batch(3)),
                        new SafeL2Loss(),
                        100,
                        manager);
        // the mean of the two batches' gradients: sigma scaled by (1 + 3) / 2
        NDArray expected = Planted.create(manager, Planted.product(U, gSingular(), V, ROWS)).mul(2);
        assertAlmostEquals(g.get("0"), expected, 1e-5, 1e-7);
        assertFalse(w.requiresGradient(), "the base weight is frozen again");
        for (Parameter p : List.of(a.loraA(), a.loraB())) {
            assertTrue(p.requiresGradient());
            assertEquals(
                    0f,
                    p.getArray().getGradient().abs().sum().getFloat(),
                    "gradient of " + p.getName());
        }
    }

    @Test
    void arB2rTakesTheTopRRightAndNextRLeftSingularVectorsScaledStably() {
        PeftModel pm = model("lora_ga", null);
        NDArray x = TinyModels.input(manager, new Shape(3, N), 2);
        NDArray before = TinyModels.forward(pm.root(), x);
        prepare(pm, List.of(batch(1)));
        LoraAdapter a = layer(pm);
        NDArray loraA = a.loraA().getArray();
        NDArray loraB = a.loraB().getArray();
        assertAlmostEquals(loraA.transpose().matMul(loraA), projector(V, 0, R, C * C), 1e-4, 1e-5);
        assertAlmostEquals(
                loraB.matMul(loraB.transpose()), projector(U, R, 2 * R, C * C), 1e-4, 1e-5);
        NDArray residual = Planted.create(manager, W).sub(loraB.matMul(loraA).mul(a.scaling()));
        assertAlmostEquals(a.base().weight().getArray(), residual, 1e-5, 1e-6);
        assertAlmostEquals(TinyModels.forward(pm.root(), x), before, 1e-5, 1e-6);
    }

    @Test
    void a2rBrSwapsTheRoles() {
        PeftModel pm = model("lora_ga", LoraGaConfig.A2RBR);
        prepare(pm, List.of(batch(1)));
        NDArray loraA = layer(pm).loraA().getArray();
        NDArray loraB = layer(pm).loraB().getArray();
        assertAlmostEquals(
                loraA.transpose().matMul(loraA), projector(V, R, 2 * R, C * C), 1e-4, 1e-5);
        assertAlmostEquals(loraB.matMul(loraB.transpose()), projector(U, 0, R, C * C), 1e-4, 1e-5);
    }

    /** PEFT's stable scale: A the unscaled right vectors, B the left ones times their singular values and C. */
    @Test
    void peftsStableScaleKeepsTheSingularValuesInB() {
        PeftModel pm = model("lora_ga", null, LoraGaConfig.STABLE);
        NDArray x = TinyModels.input(manager, new Shape(3, N), 2);
        NDArray before = TinyModels.forward(pm.root(), x);
        prepare(pm, List.of(batch(1)));
        NDArray loraA = layer(pm).loraA().getArray();
        NDArray loraB = layer(pm).loraB().getArray();
        assertAlmostEquals(loraA.transpose().matMul(loraA), projector(V, 0, R, 1), 1e-4, 1e-5);
        double[] weights = new double[ROWS];
        for (int k = R; k < 2 * R; k++) {
            weights[k] = Math.pow(gSingular()[k] * C, 2);
        }
        assertAlmostEquals(
                loraB.matMul(loraB.transpose()),
                Planted.create(manager, Planted.product(U, weights, U, ROWS)),
                1e-4,
                1e-9);
        assertAlmostEquals(TinyModels.forward(pm.root(), x), before, 1e-5, 1e-6);
    }

    /**
     * With the paper's scale, after one SGD step of size eta, LoRA-GA's change of {@code s B A} is proportional to the best
     * rank-2r approximation of {@code -eta G} (relative error after the best scalar factor); a
     * random LoRA init's change is not.
     */
    @Test
    void oneSgdStepApproximatesTheRank2rFullStep() {
        double eta = 1e-3;
        NDArray target =
                Planted.create(manager, Planted.product(U, gSingular(), V, 2 * R)).mul(-eta);
        PeftModel loraGa = model("lora_ga", null);
        prepare(loraGa, List.of(batch(1)));
        double gaError = stepError(loraGa, eta, target);
        double randomError = stepError(model("true", null), eta, target);
        assertTrue(gaError < 1e-2, "LoRA-GA step error " + gaError);
        assertTrue(
                randomError > 0.5 && randomError > 50 * gaError,
                "random LoRA step error " + randomError + " vs LoRA-GA " + gaError);
    }

    /** {@code min_z ||z D - T|| / ||T||} for the change D of {@code s B A} after one SGD step. */
    private double stepError(PeftModel pm, double eta, NDArray target) {
        LoraAdapter a = layer(pm);
        NDArray before = a.loraB().getArray().matMul(a.loraA().getArray());
        try (Batch b = batch(1);
                GradientCollector gc = manager.getEngine().newGradientCollector()) {
            NDList out = pm.root().forward(new ParameterStore(manager, false), b.getData(), true);
            gc.backward(new SafeL2Loss().evaluate(b.getLabels(), out));
        }
        for (Parameter p : List.of(a.loraA(), a.loraB())) {
            NDArray grad = p.getArray().getGradient();
            p.getArray().subi(grad.mul(eta));
            grad.subi(grad);
        }
        NDArray delta =
                a.loraB().getArray().matMul(a.loraA().getArray()).sub(before).mul(a.scaling());
        double zeta = delta.mul(target).sum().getFloat() / delta.square().sum().getFloat();
        return delta.mul(zeta).sub(target).norm().getFloat() / target.norm().getFloat();
    }

    @Test
    void optionsAreValidatedAndSerializedAsPeftsLoraGaConfig() {
        // neither PEFT nor the authors' code requires rsLoRA
        PeftModel noRs =
                PeftModel.create(
                        Planted.linear(manager, W),
                        LoraConfig.builder()
                                .optRank(R)
                                .optInitLoraWeights("lora_ga")
                                .setTargetModules("0")
                                .build());
        assertEquals(
                LoraGaConfig.defaults(),
                LoraGaConfig.of((LoraConfig) noRs.config(PeftModel.DEFAULT)));
        JsonObject random = new JsonObject();
        random.addProperty("direction", "sideways");
        IllegalArgumentException bad =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                PeftModel.create(
                                        Planted.linear(manager, W),
                                        LoraConfig.builder()
                                                .optRank(R)
                                                .optUseRslora(true)
                                                .optInitLoraWeights("lora_ga")
                                                .optInitConfig(LoraGaConfig.KEY, random)
                                                .setTargetModules("0")
                                                .build()));
        assertTrue(bad.getMessage().contains("direction"), bad.getMessage());
        PeftModel pm = model("lora_ga", LoraGaConfig.A2RBR);
        JsonObject json = pm.config(PeftModel.DEFAULT).toJson();
        assertEquals(
                "{\"direction\":\"A2rBr\",\"scale\":\"paper\",\"stable_gamma\":16}",
                json.get(LoraGaConfig.KEY).toString());
        LoraConfig parsed = LoraConfig.fromJson(new ConfigJson(json, "test"));
        assertEquals(json, parsed.toJson());
        assertEquals(
                new LoraGaConfig(LoraGaConfig.A2RBR, LoraGaConfig.PAPER, 16),
                LoraGaConfig.of(parsed));
    }

    @Test
    void trainedAdapterSavesForBothBases(@TempDir Path dir) throws IOException {
        PeftModel pm = model("lora_ga", null);
        prepare(pm, List.of(batch(1)));
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 3);
        ResidualChecks.roundTrips(
                pm, () -> Planted.linear(manager, W), new Shape(3, N), manager, dir);
    }
}
