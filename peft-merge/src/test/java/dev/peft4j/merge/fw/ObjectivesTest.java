package dev.peft4j.merge.fw;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.loss.Loss;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ready-made objectives against losses and gradients of a linear classifier written out in
 * plain Java: cross-entropy {@code d/dz = softmax(z) - onehot}, entropy {@code dH/dz = -p (log p + H)},
 * {@code dW = sum_n (dL/dz_n) x_n^T / N}, {@code db = mean_n dL/dz_n}.
 */
class ObjectivesTest {

    private static final int IN = 4;
    private static final int CLASSES = 3;
    private static final int N = 6;

    private NDManager manager;
    private SequentialBlock block;
    private double[][] x;
    private double[][] w;
    private double[] b;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
        block = new SequentialBlock().add(Linear.builder().setUnits(CLASSES).build());
        block.initialize(manager, DataType.FLOAT32, new Shape(N, IN));
        SplittableRandom rnd = new SplittableRandom(2);
        x = random(rnd, N, IN);
        w = random(rnd, CLASSES, IN);
        b = random(rnd, 1, CLASSES)[0];
        block.getParameters().get("01Linear_weight").getArray().set(floats(w));
        block.getParameters().get("01Linear_bias").getArray().set(floats(new double[][] {b}));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static double[][] random(SplittableRandom rnd, int rows, int cols) {
        double[][] m = new double[rows][cols];
        for (double[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) (rnd.nextDouble() * 2 - 1);
            }
        }
        return m;
    }

    private static float[] floats(double[][] m) {
        float[] out = new float[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m[0].length; j++) {
                out[i * m[0].length + j] = (float) m[i][j];
            }
        }
        return out;
    }

    /** Softmax probabilities of every example. */
    private double[][] probabilities() {
        double[][] p = new double[N][CLASSES];
        for (int n = 0; n < N; n++) {
            double max = Double.NEGATIVE_INFINITY;
            double[] z = new double[CLASSES];
            for (int c = 0; c < CLASSES; c++) {
                z[c] = b[c];
                for (int i = 0; i < IN; i++) {
                    z[c] += w[c][i] * x[n][i];
                }
                max = Math.max(max, z[c]);
            }
            double sum = 0;
            for (int c = 0; c < CLASSES; c++) {
                p[n][c] = Math.exp(z[c] - max);
                sum += p[n][c];
            }
            for (int c = 0; c < CLASSES; c++) {
                p[n][c] /= sum;
            }
        }
        return p;
    }

    /** {@code {dW, db}} from per-example logit gradients {@code dz [N, classes]} (already divided by N). */
    private double[][][] parameterGradients(double[][] dz) {
        double[][] dw = new double[CLASSES][IN];
        double[][] db = new double[1][CLASSES];
        for (int n = 0; n < N; n++) {
            for (int c = 0; c < CLASSES; c++) {
                db[0][c] += dz[n][c];
                for (int i = 0; i < IN; i++) {
                    dw[c][i] += dz[n][c] * x[n][i];
                }
            }
        }
        return new double[][][] {dw, db};
    }

    /** Two batches of three examples each. */
    private List<NDList> inputs() {
        NDArray all = manager.create(floats(x), new Shape(N, IN));
        return List.of(new NDList(all.get("0:3")), new NDList(all.get("3:6")));
    }

    private void check(
            BlockObjective objective, double expectedLoss, double[][][] expectedGradients) {
        int arrays = manager.getManagedArrays().size();
        for (int round = 0;
                round < 2;
                round++) { // twice: gradients must not accumulate across calls
            Map<String, float[]> g = new HashMap<>();
            double loss = objective.lossAndGradient((key, grad) -> g.put(key, grad.toFloatArray()));
            assertAlmostEquals(loss, expectedLoss, 1e-5, 1e-7);
            assertAlmostEquals(g.get("0.weight"), floats(expectedGradients[0]), 1e-4, 1e-6);
            assertAlmostEquals(g.get("0.bias"), floats(expectedGradients[1]), 1e-4, 1e-6);
        }
        assertAlmostEquals(objective.loss(), expectedLoss, 1e-5, 1e-7);
        assertEquals(List.of("0.weight", "0.bias"), List.copyOf(objective.keys()));
        // flat memory: no activation or loss temporary stays on the proxy batches' manager
        assertEquals(
                arrays,
                manager.getManagedArrays().size(),
                "arrays left on the proxy set's manager");
    }

    @Test
    void crossEntropyOnLabelledExamplesMatchesTheAnalyticGradient() {
        int[] labels = {0, 2, 1, 1, 0, 2};
        double[][] p = probabilities();
        double loss = 0;
        double[][] dz = new double[N][CLASSES];
        for (int n = 0; n < N; n++) {
            loss -= Math.log(p[n][labels[n]]) / N;
            for (int c = 0; c < CLASSES; c++) {
                dz[n][c] = (p[n][c] - (c == labels[n] ? 1 : 0)) / N;
            }
        }
        NDArray y = manager.create(new float[] {0, 2, 1, 1, 0, 2});
        BlockObjective o =
                new LabelledObjective(
                        block,
                        "",
                        k -> true,
                        inputs(),
                        List.of(new NDList(y.get("0:3")), new NDList(y.get("3:6"))),
                        Loss.softmaxCrossEntropyLoss());
        check(o, loss, parameterGradients(dz));
    }

    @Test
    void predictionEntropyOnUnlabelledInputsMatchesTheAnalyticGradient() {
        double[][] p = probabilities();
        double loss = 0;
        double[][] dz = new double[N][CLASSES];
        for (int n = 0; n < N; n++) {
            double h = 0;
            for (int c = 0; c < CLASSES; c++) {
                h -= p[n][c] * Math.log(p[n][c]);
            }
            loss += h / N;
            for (int c = 0; c < CLASSES; c++) {
                dz[n][c] = -p[n][c] * (Math.log(p[n][c]) + h) / N;
            }
        }
        check(new EntropyObjective(block, "", k -> true, inputs()), loss, parameterGradients(dz));
    }

    @Test
    void setWeightChangesTheModelAndTheKeyPrefixNamesTensors() {
        BlockObjective o =
                new EntropyObjective(block, "bert.", k -> k.endsWith("weight"), inputs());
        assertEquals(List.of("bert.0.weight"), List.copyOf(o.keys()));
        NDArray zeros = manager.zeros(new Shape(CLASSES, IN));
        o.setWeight("bert.0.weight", zeros);
        zeros.addi(1f); // the argument was copied, not aliased
        assertAlmostEquals(o.weight("bert.0.weight"), manager.zeros(new Shape(CLASSES, IN)), 0, 0);
    }
}
