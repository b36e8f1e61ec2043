package dev.peft4j.adapters.nola;

import static dev.peft4j.adapters.DenseRef.matrix;
import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.DenseRef;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.random.CounterRandom;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.tree.BaseLayer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NOLA against a dense reference whose bases are rebuilt here from the documented layout. */
class NolaTest {

    private final NDManager manager = NDManager.newBaseManager();

    @TempDir Path tmp;

    @AfterEach
    void close() {
        manager.close();
    }

    private static NolaConfig.Builder config(boolean regenerate, String... targets) {
        return NolaConfig.builder()
                .optRank(3)
                .optAlpha(6)
                .optNumBases(10, 6)
                .optSeed(42)
                .optBasisChunk(4)
                .optRegenerateBases(regenerate)
                .setTargetModules(targets);
    }

    /** Matrix {@code [rows, cols]} with {@code (2u - 1) * bound} of a stream from {@code offset}, row-major. */
    private static double[][] streamMatrix(
            CounterRandom rnd, long stream, long offset, int rows, int cols, double bound) {
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                out[i][j] =
                        (float)
                                ((2.0 * rnd.uniform(stream, offset + (long) i * cols + j) - 1.0)
                                        * bound);
            }
        }
        return out;
    }

    /** {@code target += c * basis}. */
    private static void addScaled(double[][] target, double c, double[][] basis) {
        for (int p = 0; p < target.length; p++) {
            for (int q = 0; q < target[p].length; q++) {
                target[p][q] += c * basis[p][q];
            }
        }
    }

    /** {@code s B_eff A_eff} with {@code A_eff = A0 + sum alpha_i A_i}, {@code B_eff = sum beta_j B_j}, in loops. */
    private static double[][] denseDeltaWeight(
            String path, long seed, int r, int m, int n, double s, float[] alpha, float[] beta) {
        CounterRandom rnd =
                new CounterRandom(
                        new AdapterContext(path, "default", null, null, false).layerSeed(seed));
        double[][] a = streamMatrix(rnd, 0, 0, r, n, 1 / Math.sqrt(n));
        for (int i = 0; i < alpha.length; i++) {
            addScaled(
                    a,
                    alpha[i],
                    streamMatrix(rnd, 1, (long) i * r * n, r, n, 1 / Math.sqrt(alpha.length)));
        }
        double[][] b = new double[m][r];
        for (int j = 0; j < beta.length; j++) {
            addScaled(
                    b,
                    beta[j],
                    streamMatrix(rnd, 2, (long) j * m * r, m, r, 1 / Math.sqrt(beta.length)));
        }
        double[][] dw = new double[m][n];
        for (int p = 0; p < m; p++) {
            for (int q = 0; q < n; q++) {
                for (int t = 0; t < r; t++) {
                    dw[p][q] += s * b[p][t] * a[t][q];
                }
            }
        }
        return dw;
    }

    @Test
    void forwardAndMergeEqualTheDenseReference() {
        for (boolean regenerate : new boolean[] {false, true}) {
            PeftModel pm =
                    PeftModel.create(
                            TinyModels.mlp(manager, 3).block(), config(regenerate, "2").build());
            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 31);
            NolaAdapter nola = (NolaAdapter) pm.adapters(PeftModel.DEFAULT).get("2");
            BaseLayer base = nola.base();
            double[][] w = matrix(base.weight().getArray());
            double[][] dw =
                    denseDeltaWeight(
                            "2",
                            42,
                            3,
                            12,
                            16,
                            6.0 / 3,
                            nola.coefficientsA().getArray().toFloatArray(),
                            nola.coefficientsB().getArray().toFloatArray());
            NDArray x = TinyModels.input(manager, new Shape(4, 16), 8);
            double[][] expected =
                    DenseRef.linear(matrix(x), DenseRef.plus(w, dw), DenseRef.bias(base));
            NDArray y = DenseRef.layerForward(pm, "2", x, false);
            assertAlmostEquals(
                    y.toType(DataType.FLOAT64, false).toDoubleArray(),
                    DenseRef.flat(expected),
                    1e-5,
                    1e-6);
            pm.merge();
            assertAlmostEquals(
                    DenseRef.flat(matrix(base.weight().getArray())),
                    DenseRef.flat(DenseRef.plus(w, dw)),
                    1e-6,
                    1e-6);
        }
    }

    @Test
    void coefficientsStartAtZeroSoTheModelIsUnchanged() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        NDArray x = TinyModels.input(manager, t.inputShape(), 1);
        float[] before = TinyModels.forward(t.block(), x).toFloatArray();
        PeftModel pm = PeftModel.create(t.block(), config(false, "query", "fc1").build());
        assertArrayEquals(before, TinyModels.forward(pm.root(), x).toFloatArray());
        for (Adapter a : pm.adapters(PeftModel.DEFAULT).values()) {
            assertEquals(0f, a.deltaWeight(manager).abs().max().getFloat());
        }
    }

    @Test
    void trainableCountIsKaPlusKbWhateverTheRankAndLayerSizes() {
        // layer "0" is [16, 8], "2" is [12, 16], "4" is [4, 12]
        for (int r : new int[] {1, 4, 16}) {
            PeftModel pm =
                    PeftModel.create(
                            TinyModels.mlp(manager, 3).block(),
                            NolaConfig.builder()
                                    .optRank(r)
                                    .optNumBases(20, 9)
                                    .setTargetModules("0", "2", "4")
                                    .build());
            assertEquals(3L * (20 + 9), pm.trainableParameterCount(), "r = " + r);
            pm.adapters(PeftModel.DEFAULT)
                    .values()
                    .forEach(a -> assertEquals(29, a.trainableParameterCount()));
        }
    }

    /** Output of the model and the gradients of every coefficient for a fixed linear loss. */
    private Map<String, float[]> outputAndGradients(
            boolean regenerate, NDArray x, NDArray lossWeights) {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 5);
        PeftModel pm =
                PeftModel.create(t.block(), config(regenerate, "query", "value", "fc1").build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 77);
        Map<String, float[]> out = new LinkedHashMap<>();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray y =
                    pm.root()
                            .forward(new ParameterStore(manager, false), new NDList(x), true)
                            .singletonOrThrow();
            out.put("output", y.toFloatArray());
            gc.backward(y.mul(lossWeights).sum());
        }
        pm.adapters(PeftModel.DEFAULT)
                .forEach(
                        (path, a) -> {
                            NolaAdapter nola = (NolaAdapter) a;
                            out.put(
                                    path + ".nola_alpha",
                                    nola.coefficientsA().getArray().getGradient().toFloatArray());
                            out.put(
                                    path + ".nola_beta",
                                    nola.coefficientsB().getArray().getGradient().toFloatArray());
                        });
        return out;
    }

    @Test
    void regeneratedBasesGiveTheOutputsAndGradientsOfResidentOnes() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 5);
        NDArray x = TinyModels.input(manager, t.inputShape(), 2);
        NDArray lossWeights = TinyModels.input(manager, new Shape(3, 6), 3);
        Map<String, float[]> resident = outputAndGradients(false, x, lossWeights);
        Map<String, float[]> regenerated = outputAndGradients(true, x, lossWeights);
        assertEquals(1 + 2 * 6, resident.size()); // three targets in each of two layers
        assertEquals(resident.keySet(), regenerated.keySet());
        resident.forEach(
                (k, v) -> {
                    assertTrue(
                            Arrays.stream(toDoubles(v)).anyMatch(d -> d != 0),
                            k + " must not be all zero");
                    assertAlmostEquals(regenerated.get(k), v, 1e-6, 1e-6);
                });
    }

    private static double[] toDoubles(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    @Test
    void basesDependOnlyOnSeedPathAndShapesNotOnChunking() {
        NolaBases bases = new NolaBases(123, 2, 5, 7, 9, 4);
        float[] all = bases.basesA(manager, 0, 9).toFloatArray();
        float[] middle = bases.basesA(manager, 3, 4).toFloatArray();
        assertArrayEquals(Arrays.copyOfRange(all, 3 * 14, 7 * 14), middle);
        assertArrayEquals(
                bases.basesB(manager, 1, 2).toFloatArray(),
                Arrays.copyOfRange(
                        new NolaBases(123, 2, 5, 7, 9, 4).basesB(manager, 0, 4).toFloatArray(),
                        10,
                        30));
        // different layers (paths) of one config get different bases
        PeftModel pm =
                PeftModel.create(
                        TinyModels.transformer(manager, 1).block(), config(false, "query").build());
        List<Long> seeds =
                pm.adapters(PeftModel.DEFAULT).values().stream()
                        .map(a -> ((NolaAdapter) a).bases().layerSeed())
                        .toList();
        assertEquals(2, seeds.size());
        assertFalse(seeds.get(0).equals(seeds.get(1)));
    }

    /** Keys and shapes of a saved adapter's weights file. */
    private static Map<String, Shape> savedShapes(Path dir) throws IOException {
        Map<String, Shape> out = new LinkedHashMap<>();
        try (SafetensorsReader reader =
                SafetensorsReader.open(dir.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
            reader.keys().forEach(k -> out.put(k, reader.info(k).shape()));
        }
        return out;
    }

    @Test
    void aSavedFolderHoldsTheSeedAndCoefficientsOnlyAndReloadsExactly() throws IOException {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 5);
        NDArray x = TinyModels.input(manager, t.inputShape(), 2);
        PeftModel pm = PeftModel.create(t.block(), config(true, "query", "fc1").build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 8);
        NDArray expected = TinyModels.forward(pm.root(), x);
        Path dir = tmp.resolve("nola");
        pm.save(dir);
        Map<String, Shape> expectedKeys = new LinkedHashMap<>();
        for (String path :
                List.of("layers.0.fc1", "layers.0.query", "layers.1.fc1", "layers.1.query")) {
            expectedKeys.put("base_model.model." + path + ".nola_alpha", new Shape(10));
            expectedKeys.put("base_model.model." + path + ".nola_beta", new Shape(6));
        }
        assertEquals(new TreeMap<>(expectedKeys), new TreeMap<>(savedShapes(dir)));
        JsonObject json = JsonIO.readObject(dir.resolve(AdapterCheckpoint.CONFIG_FILE));
        assertEquals("NOLA", json.get("peft_type").getAsString());
        assertEquals(42, json.get("nola_seed").getAsLong());
        // the bases are rebuilt from the seed, resident this time: the output is the same bit for
        // bit
        JsonObject resident = json.deepCopy();
        resident.addProperty("regenerate_bases", false);
        JsonIO.writeSorted(dir.resolve(AdapterCheckpoint.CONFIG_FILE), resident);
        PeftModel loaded = PeftModel.load(TinyModels.transformer(manager, 5).block(), dir);
        assertAlmostEquals(TinyModels.forward(loaded.root(), x), expected, 0, 0);
        // another seed rebuilds other bases: the same coefficients then give another output
        resident.addProperty("nola_seed", 43);
        JsonIO.writeSorted(dir.resolve(AdapterCheckpoint.CONFIG_FILE), resident);
        PeftModel reseeded = PeftModel.load(TinyModels.transformer(manager, 5).block(), dir);
        assertFalse(
                Arrays.equals(
                        expected.toFloatArray(),
                        TinyModels.forward(reseeded.root(), x).toFloatArray()));
    }

    /** Saves the adapter; returns {file size, tensor data bytes} of its weights file. */
    private long[] savedWeightsBytes(PeftModel pm, String name) throws IOException {
        Path dir = tmp.resolve(name);
        pm.save(dir);
        byte[] file = Files.readAllBytes(dir.resolve(AdapterCheckpoint.WEIGHTS_FILE));
        long header = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new long[] {file.length, file.length - 8 - header};
    }

    @Test
    void aNolaFileDoesNotGrowWithTheRankAndIsFarSmallerThanLoras() throws IOException {
        TargetModules everyLinear =
                TargetModules.names(
                        "embed", "query", "key", "value", "dense", "fc1", "fc2", "head");
        long[][] nola = new long[2][];
        int[] ranks = {8, 64};
        for (int i = 0; i < 2; i++) {
            PeftModel pm =
                    PeftModel.create(
                            TinyModels.transformer(manager, 1).block(),
                            NolaConfig.builder()
                                    .optRank(ranks[i])
                                    .optNumBases(16, 16)
                                    .setTargetModules(everyLinear)
                                    .build());
            assertEquals(14, pm.adapters(PeftModel.DEFAULT).size());
            nola[i] = savedWeightsBytes(pm, "nola" + ranks[i]);
        }
        PeftModel lora =
                PeftModel.create(
                        TinyModels.transformer(manager, 1).block(),
                        LoraConfig.builder().optRank(8).setTargetModules(everyLinear).build());
        long[] loraBytes = savedWeightsBytes(lora, "lora");
        assertArrayEquals(nola[0], nola[1]);
        assertEquals(14L * 32 * 4, nola[0][1]); // 14 layers x (16 + 16) float32 coefficients
        assertTrue(nola[0][0] < 5 * 1024, nola[0][0] + " bytes, most of them the JSON header");
        // LoRA r 8 holds 8 (m + n) floats per layer, 3008 on this model
        assertEquals(3008L * 4, loraBytes[1]);
        assertTrue(loraBytes[0] > 2 * nola[0][0], loraBytes[0] + " vs " + nola[0][0]);
    }

    @Test
    void configRoundTripsThroughJsonAndTheBaseKeysAreRequired() {
        NolaConfig cfg =
                NolaConfig.builder()
                        .optRank(4)
                        .optAlpha(2.5)
                        .optNumBases(300, 200)
                        .optSeed(-8_070_450_532_247_928_832L)
                        .optRegenerateBases(true)
                        .optBasisChunk(32)
                        .setTargetModules("q_proj", "v_proj")
                        .optTaskType("CAUSAL_LM")
                        .build();
        JsonObject json = cfg.toJson();
        assertEquals("NOLA", json.get("peft_type").getAsString());
        assertEquals(-8_070_450_532_247_928_832L, json.get("nola_seed").getAsLong());
        NolaConfig back =
                (NolaConfig)
                        AdapterMethods.forType("NOLA", "t").fromJson(new ConfigJson(json, "t"));
        assertEquals(json, back.toJson());
        assertEquals(2.5 / 4, back.scaling(), 0);
        for (String key : new String[] {"nola_seed", "num_basis_a", "num_basis_b"}) {
            JsonObject missing = json.deepCopy();
            missing.remove(key);
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () ->
                                    NolaConfig.fromJson(
                                            new ConfigJson(missing, "adapter_config.json")));
            assertTrue(
                    e.getMessage().contains("adapter_config.json") && e.getMessage().contains(key),
                    e.getMessage());
        }
        assertThrows(
                IllegalArgumentException.class,
                () -> NolaConfig.builder().optNumBases(0, 3).setTargetModules("q").build());
        assertThrows(
                IllegalArgumentException.class,
                () -> NolaConfig.builder().optRank(0).setTargetModules("q").build());
        assertThrows(
                IllegalArgumentException.class,
                () -> NolaConfig.builder().optBasisChunk(0).setTargetModules("q").build());
    }

    @Test
    void adapterDescribesItselfInOneLine() {
        PeftModel pm =
                PeftModel.create(TinyModels.mlp(manager, 3).block(), config(true, "0").build());
        NolaAdapter a = (NolaAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
        assertEquals(
                "NOLA(0: W [16, 8], r 3, nola_alpha [10], nola_beta [6], bases regenerated, layer"
                        + " seed "
                        + a.bases().layerSeed()
                        + ")",
                a.toString());
    }
}
