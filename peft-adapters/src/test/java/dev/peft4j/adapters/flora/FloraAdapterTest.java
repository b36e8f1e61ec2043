package dev.peft4j.adapters.flora;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.AdapterTestSupport;
import dev.peft4j.adapters.DenseRef;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** FLoRA against dense references written out here: the Tucker sum, a loop convolution, {@code P_1 G^T P_0^T}. */
class FloraAdapterTest {

    private static final Shape CONV_INPUT = new Shape(2, 4, 7, 6);
    private static final int[] STRIDE = {2, 1};
    private static final int[] PADDING = {1, 2};
    private static final int[] DILATION = {2, 1};
    private static final int GROUPS = 2;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** A 4 -> 6 channel convolution, kernel 3x2, with distinct stride, padding and dilation per axis. */
    private Block convModel() {
        Block conv =
                Conv2d.builder()
                        .setKernelShape(new Shape(3, 2))
                        .setFilters(6)
                        .optStride(new Shape(STRIDE[0], STRIDE[1]))
                        .optPadding(new Shape(PADDING[0], PADDING[1]))
                        .optDilation(new Shape(DILATION[0], DILATION[1]))
                        .optGroups(GROUPS)
                        .build();
        SequentialBlock b = new SequentialBlock().add(conv);
        TinyModels.init(b, manager, CONV_INPUT, 3);
        return b;
    }

    private static FloraConfig.Builder config() {
        return FloraConfig.builder().setTargetModules("0");
    }

    private PeftModel onLinear(int in, int out, FloraConfig config) {
        return PeftModel.create(AdapterTestSupport.singleLinear(manager, in, out), config);
    }

    private static FloraAdapter adapter(PeftModel pm) {
        return (FloraAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
    }

    @Test
    void conv4dDeltaWeightEqualsElementwiseTuckerSum() {
        PeftModel pm =
                PeftModel.create(
                        convModel(), config().optRank(3).optKernelRank(2).optScale(1.5).build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 21);
        FloraAdapter a = adapter(pm);
        assertArrayEquals(
                new long[] {2, 6, 3, 2}, a.modeSizes(), "modes [in / groups, out, kh, kw]");
        assertArrayEquals(new int[] {3, 3, 2, 2}, a.ranks());
        NDArray dw = a.deltaWeight(manager);
        assertEquals(new Shape(6, 2, 3, 2), dw.getShape());
        assertAlmostEquals(NdAssert.toDoubles(dw), tuckerSum(a, 1.5), 1e-5, 1e-6);
    }

    @Test
    void convForwardEqualsDirectConvolutionWithMergedWeight() {
        Block model = convModel();
        Conv2d conv = (Conv2d) model.getChildren().valueAt(0);
        double[] w = NdAssert.toDoubles(conv.getParameters().get("weight").getArray());
        double[] bias = NdAssert.toDoubles(conv.getParameters().get("bias").getArray());
        PeftModel pm = PeftModel.create(model, config().optRank(2).optScale(0.8).build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 22);
        double[] dw = tuckerSum(adapter(pm), 0.8);
        for (int i = 0; i < w.length; i++) {
            w[i] += dw[i];
        }
        NDArray x = TinyModels.input(manager, CONV_INPUT, 9);
        NDArray actual = TinyModels.forward(pm.root(), x);
        assertEquals(new Shape(2, 6, 3, 9), actual.getShape());
        double[] expected =
                loopConv2d(
                        NdAssert.toDoubles(x),
                        CONV_INPUT.getShape(),
                        w,
                        new long[] {6, 2, 3, 2},
                        bias);
        assertAlmostEquals(NdAssert.toDoubles(actual), expected, 1e-5, 1e-5);
    }

    @Test
    void linearDeltaWeightAndForwardEqualDenseP1GtP0t() {
        Block model = AdapterTestSupport.singleLinear(manager, 7, 5);
        Linear linear = (Linear) model.getChildren().valueAt(0);
        double[][] w = DenseRef.matrix(linear.getParameters().get("weight").getArray());
        double[] bias = NdAssert.toDoubles(linear.getParameters().get("bias").getArray());
        PeftModel pm = PeftModel.create(model, config().optRank(3).optScale(0.7).build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 23);
        FloraAdapter a = adapter(pm);
        double[][] g = DenseRef.matrix(a.core().getArray());
        double[][] p0 = DenseRef.matrix(a.factor(0).getArray());
        double[][] p1 = DenseRef.matrix(a.factor(1).getArray());
        double[][] dw =
                DenseRef.matMul(DenseRef.matMul(p1, DenseRef.transpose(g)), DenseRef.transpose(p0));
        double[][] expectedDw = DenseRef.scaled(0.7, dw);
        assertAlmostEquals(
                NdAssert.toDoubles(a.deltaWeight(manager)), DenseRef.flat(expectedDw), 1e-5, 1e-7);

        NDArray x = TinyModels.input(manager, new Shape(3, 7), 10);
        NDArray delta = a.delta(new ParameterStore(manager, false), x, false);
        double[][] xDwT = DenseRef.linear(DenseRef.matrix(x), expectedDw, null);
        assertAlmostEquals(NdAssert.toDoubles(delta), DenseRef.flat(xDwT), 1e-5, 1e-7);
        double[][] y = DenseRef.linear(DenseRef.matrix(x), DenseRef.plus(w, expectedDw), bias);
        assertAlmostEquals(
                NdAssert.toDoubles(TinyModels.forward(pm.root(), x)), DenseRef.flat(y), 1e-5, 1e-6);
    }

    @Test
    void initHasZeroCoreAndSeededFactorsWithVariance1Over2r() {
        PeftModel pm = onLinear(64, 48, config().optRank(4).build());
        FloraAdapter a = adapter(pm);
        assertEquals(0.0, a.core().getArray().abs().sum().getFloat());
        assertEquals(0.0, a.deltaWeight(manager).abs().sum().getFloat(), "dW = 0 at init");
        double[] p =
                concat(
                        NdAssert.toDoubles(a.factor(0).getArray()),
                        NdAssert.toDoubles(a.factor(1).getArray()));
        double std = Math.sqrt(Arrays.stream(p).map(v -> v * v).sum() / p.length);
        // 448 draws: the estimate's relative error is about 1 / sqrt(2 * 448) = 3.3%
        assertAlmostEquals(std, 1 / Math.sqrt(2 * 4), 0.12, 0);

        float[] again =
                adapter(onLinear(64, 48, config().optRank(4).build()))
                        .factor(0)
                        .getArray()
                        .toFloatArray();
        assertArrayEquals(a.factor(0).getArray().toFloatArray(), again, "same seed, same factors");
        float[] other =
                adapter(onLinear(64, 48, config().optRank(4).optInitSeed(1).build()))
                        .factor(0)
                        .getArray()
                        .toFloatArray();
        assertFalse(Arrays.equals(again, other), "another seed, other factors");
    }

    @Test
    void kernelModesDefaultToFullRank() {
        FloraAdapter a = adapter(PeftModel.create(convModel(), config().optRank(5).build()));
        assertArrayEquals(new int[] {5, 5, 3, 2}, a.ranks());
        assertEquals(new Shape(3, 3), a.factor(2).getArray().getShape());
        assertEquals(new Shape(5, 5, 3, 2), a.core().getArray().getShape());
    }

    @Test
    void trainingStepsLeaveTheModelManagerFlat() {
        PeftModel conv = PeftModel.create(convModel(), config().optRank(2).build());
        AdapterTestSupport.assertStepLeavesManagerFlat(
                conv.root(), TinyModels.input(manager, CONV_INPUT, 1), manager);
        PeftModel linear = onLinear(7, 5, config().optRank(2).build());
        NDArray x = TinyModels.input(manager, new Shape(3, 7), 2);
        AdapterTestSupport.assertStepLeavesManagerFlat(linear.root(), x, manager);
        int before = manager.getManagedArrays().size();
        try (NDManager scope = manager.newSubManager()) {
            adapter(conv).deltaWeight(scope);
        }
        assertEquals(
                before,
                manager.getManagedArrays().size(),
                "deltaWeight keeps its temporaries in its scope");
    }

    @Test
    void checkpointHoldsTheCoreAndFactorsOfEveryLayer(@TempDir Path dir) throws IOException {
        TinyModel cnn = TinyModels.cnn(manager, 8);
        PeftModel pm =
                PeftModel.create(
                        cnn.block(),
                        FloraConfig.builder().optRank(2).setTargetModules("0", "2", "5").build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 24);
        NDArray x = TinyModels.input(manager, cnn.inputShape(), 11);
        Map<String, Shape> saved =
                AdapterTestSupport.saveAndReload(pm, TinyModels.cnn(manager, 8).block(), x, dir);
        Map<String, Shape> expected = new TreeMap<>();
        String p = "base_model.model.";
        // layer 0: weight [4, 3, 3, 3]; layer 2: [6, 2, 3, 2] (groups 2); layer 5: Linear [5, 96]
        expected.put(p + "0.flora_G", new Shape(2, 2, 3, 3));
        expected.put(p + "0.flora_P.0", new Shape(3, 2));
        expected.put(p + "0.flora_P.1", new Shape(4, 2));
        expected.put(p + "0.flora_P.2", new Shape(3, 3));
        expected.put(p + "0.flora_P.3", new Shape(3, 3));
        expected.put(p + "2.flora_G", new Shape(2, 2, 3, 2));
        expected.put(p + "2.flora_P.0", new Shape(2, 2));
        expected.put(p + "2.flora_P.1", new Shape(6, 2));
        expected.put(p + "2.flora_P.2", new Shape(3, 3));
        expected.put(p + "2.flora_P.3", new Shape(2, 2));
        expected.put(p + "5.flora_G", new Shape(2, 2));
        expected.put(p + "5.flora_P.0", new Shape(96, 2));
        expected.put(p + "5.flora_P.1", new Shape(5, 2));
        assertEquals(expected, saved);
        JsonObject config =
                JsonParser.parseString(Files.readString(dir.resolve(AdapterCheckpoint.CONFIG_FILE)))
                        .getAsJsonObject();
        assertEquals("FLORA", config.get("peft_type").getAsString());
        assertTrue(config.get("kernel_r").isJsonNull());
    }

    @Test
    void configRoundTripsThroughJsonAndTheRegistry() {
        for (FloraConfig c :
                new FloraConfig[] {
                    config().build(),
                    config().optRank(3).optKernelRank(2).optScale(0.25).optInitSeed(7).build()
                }) {
            JsonObject json = c.toJson();
            assertEquals("FLORA", json.get("peft_type").getAsString());
            AdapterConfig back =
                    AdapterMethods.forType("FLORA", "test")
                            .fromJson(new ConfigJson(json, "a.json"));
            assertEquals(json, back.toJson());
        }
        FloraConfig d = config().build();
        assertEquals(8, d.r());
        assertNull(d.kernelR());
        assertEquals(1.0, d.scale());
    }

    @Test
    void invalidOptionsAreRejectedWithTheirName() {
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> config().optRank(0).build())
                        .getMessage()
                        .contains("rank r"));
        assertTrue(
                assertThrows(
                                IllegalArgumentException.class,
                                () -> config().optKernelRank(0).build())
                        .getMessage()
                        .contains("kernel_r"));
        assertTrue(
                assertThrows(
                                IllegalArgumentException.class,
                                () -> config().optScale(Double.NaN).build())
                        .getMessage()
                        .contains("scale"));
        JsonObject json = config().build().toJson();
        json.addProperty("r", 2.5);
        String msg =
                assertThrows(
                                IllegalArgumentException.class,
                                () ->
                                        FloraConfig.fromJson(
                                                new ConfigJson(json, "dir/adapter_config.json")))
                        .getMessage();
        assertTrue(msg.contains("dir/adapter_config.json") && msg.contains("'r'"), msg);
    }

    /** {@code scale * sum G[a,b,e,f] P0[c,a] P1[o,b] P2[p,e] P3[q,f]} laid out {@code [o, c, p, q]}. */
    private static double[] tuckerSum(FloraAdapter a, double scale) {
        long[] d = a.modeSizes();
        int[] r = a.ranks();
        double[] g = NdAssert.toDoubles(a.core().getArray());
        double[][][] p = new double[4][][];
        for (int i = 0; i < 4; i++) {
            p[i] = DenseRef.matrix(a.factor(i).getArray());
        }
        double[] out = new double[(int) (d[0] * d[1] * d[2] * d[3])];
        int k = 0;
        for (int o = 0; o < d[1]; o++) {
            for (int c = 0; c < d[0]; c++) {
                for (int y = 0; y < d[2]; y++) {
                    for (int x = 0; x < d[3]; x++) {
                        double s = 0;
                        int gi = 0;
                        for (int i0 = 0; i0 < r[0]; i0++) {
                            for (int i1 = 0; i1 < r[1]; i1++) {
                                for (int i2 = 0; i2 < r[2]; i2++) {
                                    for (int i3 = 0; i3 < r[3]; i3++) {
                                        s +=
                                                g[gi++]
                                                        * p[0][c][i0]
                                                        * p[1][o][i1]
                                                        * p[2][y][i2]
                                                        * p[3][x][i3];
                                    }
                                }
                            }
                        }
                        out[k++] = scale * s;
                    }
                }
            }
        }
        return out;
    }

    /** A direct grouped convolution, NCHW input, weight {@code [out, in / groups, kh, kw]}, with bias. */
    private static double[] loopConv2d(
            double[] x, long[] xs, double[] w, long[] ws, double[] bias) {
        int n = (int) xs[0];
        int c = (int) xs[1];
        int h = (int) xs[2];
        int wd = (int) xs[3];
        int outC = (int) ws[0];
        int cg = (int) ws[1];
        int kh = (int) ws[2];
        int kw = (int) ws[3];
        int ho = (h + 2 * PADDING[0] - DILATION[0] * (kh - 1) - 1) / STRIDE[0] + 1;
        int wo = (wd + 2 * PADDING[1] - DILATION[1] * (kw - 1) - 1) / STRIDE[1] + 1;
        double[] out = new double[n * outC * ho * wo];
        int outPerGroup = outC / GROUPS;
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < outC; o++) {
                int firstChannel = (o / outPerGroup) * cg;
                for (int i = 0; i < ho; i++) {
                    for (int j = 0; j < wo; j++) {
                        double s = bias[o];
                        for (int ci = 0; ci < cg; ci++) {
                            for (int p = 0; p < kh; p++) {
                                for (int q = 0; q < kw; q++) {
                                    int yy = i * STRIDE[0] - PADDING[0] + p * DILATION[0];
                                    int xx = j * STRIDE[1] - PADDING[1] + q * DILATION[1];
                                    if (yy >= 0 && yy < h && xx >= 0 && xx < wd) {
                                        s +=
                                                w[((o * cg + ci) * kh + p) * kw + q]
                                                        * x[
                                                                ((b * c + firstChannel + ci) * h
                                                                                        + yy)
                                                                                * wd
                                                                        + xx];
                                    }
                                }
                            }
                        }
                        out[((b * outC + o) * ho + i) * wo + j] = s;
                    }
                }
            }
        }
        return out;
    }

    private static double[] concat(double[] a, double[] b) {
        double[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
