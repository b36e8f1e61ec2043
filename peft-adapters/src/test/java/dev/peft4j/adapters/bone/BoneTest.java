package dev.peft4j.adapters.bone;

import static dev.peft4j.adapters.DenseRef.matrix;
import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.DenseRef;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.SafetensorsWriter;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.tree.BaseLayer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Bone and Bat against dense references written out with explicit loops, and their PEFT MiSS configs. */
class BoneTest {

    private final NDManager manager = NDManager.newBaseManager();

    @TempDir Path tmp;

    @AfterEach
    void close() {
        manager.close();
    }

    /** Bone's {@code dW [m, n]}: column {@code c} is row {@code c mod r} of {@code b [r, m]}. */
    private static double[][] boneDeltaWeight(double[][] b, int n) {
        int r = b.length;
        int m = b[0].length;
        double[][] dw = new double[m][n];
        for (int o = 0; o < m; o++) {
            for (int c = 0; c < n; c++) {
                dw[o][c] = b[c % r][o];
            }
        }
        return dw;
    }

    /** Bat's {@code dW_ij = W_ij b_i + b_i} over the r x r blocks, {@code b [m/r, r, r]} flattened. */
    private static double[][] batDeltaWeight(double[][] w, double[] b, int r) {
        int m = w.length;
        int n = w[0].length;
        double[][] dw = new double[m][n];
        for (int i = 0; i < m / r; i++) {
            for (int j = 0; j < n / r; j++) {
                for (int a = 0; a < r; a++) {
                    for (int c = 0; c < r; c++) {
                        double acc = b[(i * r + a) * r + c];
                        for (int k = 0; k < r; k++) {
                            acc += w[i * r + a][j * r + k] * b[(i * r + k) * r + c];
                        }
                        dw[i * r + a][j * r + c] = acc;
                    }
                }
            }
        }
        return dw;
    }

    private static double[][] rows(NDArray x) {
        return matrix(x.reshape(-1, x.getShape().tail()));
    }

    /** Checks the adapted layer's forward against {@code (W + dW) x + bias} and its merged weight against {@code W + dW}. */
    private static void assertLayerMatches(PeftModel pm, String path, NDArray x, double[][] dw) {
        BaseLayer base = DenseRef.base(pm, path);
        double[][] w = matrix(base.weight().getArray());
        double[][] expected = DenseRef.linear(rows(x), DenseRef.plus(w, dw), DenseRef.bias(base));
        NDArray y = DenseRef.layerForward(pm, path, x, false);
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
        pm.unmerge();
    }

    /** r = 3 and 5 leave a partial tail block of the 8 inputs, 4 divides them, 20 exceeds them. */
    @ParameterizedTest
    @ValueSource(ints = {3, 4, 5, 20})
    void boneForwardEqualsTheTiledDenseForward(int r) {
        PeftModel pm =
                PeftModel.create(
                        TinyModels.mlp(manager, 3).block(),
                        BoneConfig.builder()
                                .optRank(r)
                                .optDropout(0.3)
                                .setTargetModules("0")
                                .build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 21);
        BoneAdapter bone = (BoneAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
        assertEquals(new Shape(r, 16), bone.block().getArray().getShape());
        NDArray x = TinyModels.input(manager, new Shape(2, 3, 8), 4);
        assertLayerMatches(pm, "0", x, boneDeltaWeight(matrix(bone.block().getArray()), 8));
    }

    @Test
    void boneStartsAtZeroSoTheModelIsUnchanged() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        NDArray x = TinyModels.input(manager, t.inputShape(), 1);
        float[] before = TinyModels.forward(t.block(), x).toFloatArray();
        PeftModel pm =
                PeftModel.create(
                        t.block(),
                        BoneConfig.builder().optRank(5).setTargetModules("query", "fc1").build());
        assertArrayEquals(before, TinyModels.forward(pm.root(), x).toFloatArray());
    }

    @Test
    void boneRandomInitIsKaimingUniformAndSeededPerModule() {
        BoneConfig cfg =
                BoneConfig.builder()
                        .optRank(4)
                        .optRandomInit(true)
                        .optInitSeed(5)
                        .setTargetModules("0", "2")
                        .build();
        PeftModel pm = PeftModel.create(TinyModels.mlp(manager, 1).block(), cfg);
        float[] first =
                ((BoneAdapter) pm.adapters(PeftModel.DEFAULT).get("0"))
                        .block()
                        .getArray()
                        .toFloatArray();
        double bound = 1 / Math.sqrt(16); // PEFT's kaiming_uniform_(a = sqrt(5)) on [r, out = 16]
        for (float v : first) {
            assertTrue(v != 0 && Math.abs(v) <= bound, "value " + v);
        }
        PeftModel again = PeftModel.create(TinyModels.mlp(manager, 1).block(), cfg);
        assertArrayEquals(
                first,
                ((BoneAdapter) again.adapters(PeftModel.DEFAULT).get("0"))
                        .block()
                        .getArray()
                        .toFloatArray());
        float[] second =
                ((BoneAdapter) again.adapters(PeftModel.DEFAULT).get("2"))
                        .block()
                        .getArray()
                        .toFloatArray();
        assertFalse(Arrays.equals(first, Arrays.copyOf(second, first.length)));
    }

    @Test
    void boneDropoutActsOnlyWhileTraining() {
        PeftModel pm =
                PeftModel.create(
                        TinyModels.mlp(manager, 3).block(),
                        BoneConfig.builder()
                                .optRank(3)
                                .optDropout(0.5)
                                .setTargetModules("0")
                                .build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 2);
        NDArray x = TinyModels.input(manager, new Shape(64, 8), 1);
        float[] eval = DenseRef.layerForward(pm, "0", x, false).toFloatArray();
        assertArrayEquals(eval, DenseRef.layerForward(pm, "0", x, false).toFloatArray());
        assertFalse(Arrays.equals(eval, DenseRef.layerForward(pm, "0", x, true).toFloatArray()));
    }

    @Test
    void batForwardEqualsTheBlockLoopDenseForward() {
        PeftModel pm =
                PeftModel.create(
                        TinyModels.mlp(manager, 3).block(),
                        BoneConfig.builder()
                                .optRank(4)
                                .optVariant(BoneConfig.Variant.BAT)
                                .setTargetModules("0", "2")
                                .build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 22);
        NDArray x = TinyModels.input(manager, new Shape(5, 16), 4);
        BatAdapter bat = (BatAdapter) pm.adapters(PeftModel.DEFAULT).get("2");
        assertEquals(
                new Shape(3, 4, 4),
                bat.block().getArray().getShape()); // [out / r, r, r] with out = 12
        double[][] w = matrix(bat.base().weight().getArray());
        assertLayerMatches(
                pm,
                "2",
                x,
                batDeltaWeight(w, DenseRef.flat(matrix(bat.block().getArray().reshape(-1, 4))), 4));
    }

    /** Fills every Bat block with seeded uniform values of a given half-width. */
    private static void fillBlocks(PeftModel pm, double halfWidth, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (var a : pm.adapters(PeftModel.DEFAULT).values()) {
            NDArray b = ((BatAdapter) a).block().getArray();
            float[] v = new float[(int) b.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) ((rnd.nextDouble() * 2 - 1) * halfWidth);
            }
            b.set(v);
        }
    }

    @Test
    void batUnmergeRestoresEveryLayerOfATransformer() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 8);
        PeftModel pm =
                PeftModel.create(
                        t.block(),
                        BoneConfig.builder()
                                .optRank(4)
                                .optVariant(BoneConfig.Variant.BAT)
                                .setTargetModules("query", "key", "value", "dense", "fc1", "fc2")
                                .build());
        fillBlocks(pm, 0.3, 17);
        Map<String, BaseLayer> layers = new LinkedHashMap<>();
        pm.adapters(PeftModel.DEFAULT).forEach((path, a) -> layers.put(path, a.base()));
        Map<String, float[]> before = new LinkedHashMap<>();
        layers.forEach((path, l) -> before.put(path, l.weight().getArray().toFloatArray()));
        assertEquals(12, before.size()); // six modules in each of the two layers
        pm.merge();
        double moved = 0;
        for (var e : layers.entrySet()) {
            float[] merged = e.getValue().weight().getArray().toFloatArray();
            for (int i = 0; i < merged.length; i++) {
                moved = Math.max(moved, Math.abs(merged[i] - before.get(e.getKey())[i]));
            }
        }
        assertTrue(moved > 0.1, "merging must change the weights, max change " + moved);
        pm.unmerge();
        layers.forEach(
                (path, l) ->
                        assertAlmostEquals(
                                l.weight().getArray().toFloatArray(), before.get(path), 0, 1e-6));
    }

    @Test
    void batUnmergeWithASingularBlockIsAnErrorAndLeavesTheWeightMerged() {
        PeftModel pm =
                PeftModel.create(
                        TinyModels.mlp(manager, 3).block(),
                        BoneConfig.builder()
                                .optRank(4)
                                .optVariant(BoneConfig.Variant.BAT)
                                .setTargetModules("2")
                                .build());
        BatAdapter bat = (BatAdapter) pm.adapters(PeftModel.DEFAULT).get("2");
        // b_1 = -I makes I + b_1 zero: the merged block W'_1j = W_1j (I + b_1) + b_1 = -I forgets
        // W_1j
        NDArray b = bat.block().getArray();
        b.set(new NDIndex("1"), manager.eye(4).neg());
        pm.merge();
        float[] merged = bat.base().weight().getArray().toFloatArray();
        IllegalStateException e = assertThrows(IllegalStateException.class, pm::unmerge);
        assertTrue(
                e.getMessage().contains("'2'") && e.getMessage().contains("singular"),
                e.getMessage());
        assertArrayEquals(merged, bat.base().weight().getArray().toFloatArray());
        double[][] w = matrix(bat.base().weight().getArray());
        assertEquals(-1.0, w[4][0], 0);
        assertEquals(0.0, w[4][1], 0);
    }

    @Test
    void batNeedsRToDivideBothDimensions() {
        // layer "0" is [16, 8]: r = 3 divides neither; layer "2" is [12, 16]: r = 6 divides out,
        // not in
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                PeftModel.create(
                                        TinyModels.mlp(manager, 3).block(),
                                        BoneConfig.builder()
                                                .optRank(3)
                                                .optVariant(BoneConfig.Variant.BAT)
                                                .setTargetModules("0")
                                                .build()));
        assertTrue(
                e.getMessage().contains("'0'")
                        && e.getMessage().contains("m = 16")
                        && e.getMessage().contains("n = 8")
                        && e.getMessage().contains("r = 3"),
                e.getMessage());
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                PeftModel.create(
                                        mlp.block(),
                                        BoneConfig.builder()
                                                .optRank(6)
                                                .optVariant(BoneConfig.Variant.BAT)
                                                .setTargetModules("2")
                                                .build()));
        assertTrue(
                e.getMessage().contains("'2'")
                        && e.getMessage().contains("n = 16")
                        && e.getMessage().contains("r = 6"),
                e.getMessage());
        // Bone pads instead: the same r is fine
        PeftModel bone =
                PeftModel.create(
                        mlp.block(), BoneConfig.builder().optRank(6).setTargetModules("2").build());
        assertEquals(6L * 12, bone.trainableParameterCount());
    }

    @Test
    void configsRoundTripThroughPeftJson() {
        List<BoneConfig> configs =
                List.of(
                        BoneConfig.builder()
                                .optRank(16)
                                .optDropout(0.05)
                                .setTargetModules("q_proj", "v_proj")
                                .build(),
                        BoneConfig.builder()
                                .optRank(8)
                                .optRandomInit(true)
                                .setTargetModules("fc1")
                                .optTaskType("SEQ_CLS")
                                .build(),
                        BoneConfig.builder()
                                .optRank(32)
                                .optVariant(BoneConfig.Variant.BAT)
                                .setTargetModules("q")
                                .optModulesToSave("classifier")
                                .build());
        List<Object> initWeights = List.of(true, false, "bat");
        for (int i = 0; i < configs.size(); i++) {
            JsonObject json = configs.get(i).toJson();
            assertEquals("MISS", json.get("peft_type").getAsString());
            assertEquals(
                    String.valueOf(initWeights.get(i)), json.get("init_weights").getAsString());
            BoneConfig back =
                    (BoneConfig)
                            AdapterMethods.forType("MISS", "t").fromJson(new ConfigJson(json, "t"));
            assertEquals(json, back.toJson());
            assertEquals(configs.get(i).variant(), back.variant());
            assertEquals(configs.get(i).r(), back.r());
        }
    }

    /** A config as PEFT 0.17's {@code MissConfig(r=64, init_weights="bat", ...)}.save_pretrained writes it. */
    private static final String PEFT_MISS =
            "{\n"
                    + "  \"auto_mapping\": null,\n"
                    + "  \"base_model_name_or_path\": \"facebook/opt-125m\",\n"
                    + "  \"bias\": \"none\",\n"
                    + "  \"exclude_modules\": null,\n"
                    + "  \"inference_mode\": true,\n"
                    + "  \"init_weights\": \"bat\",\n"
                    + "  \"layers_pattern\": null,\n"
                    + "  \"layers_to_transform\": null,\n"
                    + "  \"mini_r\": 1,\n"
                    + "  \"miss_dropout\": 0.0,\n"
                    + "  \"modules_to_save\": null,\n"
                    + "  \"peft_type\": \"MISS\",\n"
                    + "  \"peft_version\": \"0.17.1\",\n"
                    + "  \"r\": 64,\n"
                    + "  \"revision\": null,\n"
                    + "  \"target_modules\": [\n"
                    + "    \"v_proj\",\n"
                    + "    \"q_proj\"\n"
                    + "  ],\n"
                    + "  \"task_type\": \"CAUSAL_LM\"\n"
                    + "}";

    @Test
    void aMissConfigAsPeftWritesItParses() {
        ConfigJson json =
                new ConfigJson(
                        JsonParser.parseString(PEFT_MISS).getAsJsonObject(), "adapter_config.json");
        BoneConfig cfg =
                (BoneConfig) AdapterMethods.forType("MISS", "adapter_config.json").fromJson(json);
        assertEquals(BoneConfig.Variant.BAT, cfg.variant());
        assertEquals(64, cfg.r());
        assertEquals(0.0, cfg.dropout());
        assertEquals("CAUSAL_LM", cfg.taskType());
        assertEquals("facebook/opt-125m", cfg.baseModelNameOrPath());
        assertTrue(cfg.inferenceMode());
        assertTrue(cfg.selects("model.decoder.layers.0.self_attn.q_proj", true));
        assertFalse(cfg.selects("model.decoder.layers.0.self_attn.k_proj", true));
        assertEquals(List.of(), json.warnUnknownKeys());

        JsonObject bone = JsonParser.parseString(PEFT_MISS).getAsJsonObject();
        bone.addProperty("init_weights", true);
        assertEquals(
                BoneConfig.Variant.BONE,
                BoneConfig.fromJson(new ConfigJson(bone, "a.json")).variant());
    }

    @Test
    void unsupportedMissOptionsAreErrorsNamingTheFileAndKey() {
        Map<String, Object> bad = Map.of("init_weights", "mini", "bias", "all");
        bad.forEach(
                (key, value) -> {
                    JsonObject o = JsonParser.parseString(PEFT_MISS).getAsJsonObject();
                    o.add(key, new Gson().toJsonTree(value));
                    IllegalArgumentException e =
                            assertThrows(
                                    IllegalArgumentException.class,
                                    () ->
                                            BoneConfig.fromJson(
                                                    new ConfigJson(o, "adapter_config.json")));
                    assertTrue(
                            e.getMessage().contains("adapter_config.json")
                                    && e.getMessage().contains(key),
                            e.getMessage());
                });
        assertThrows(
                IllegalArgumentException.class,
                () -> BoneConfig.builder().optRank(0).setTargetModules("q").build());
        assertThrows(
                IllegalArgumentException.class,
                () -> BoneConfig.builder().optDropout(1).setTargetModules("q").build());
        assertThrows(
                IllegalArgumentException.class,
                () ->
                        BoneConfig.builder()
                                .optVariant(BoneConfig.Variant.BAT)
                                .optRandomInit(true)
                                .setTargetModules("q")
                                .build());
    }

    @Test
    void savedFoldersUsePeftMissKeysAndShapes() throws IOException {
        for (BoneConfig.Variant v : BoneConfig.Variant.values()) {
            PeftModel pm =
                    PeftModel.create(
                            TinyModels.mlp(manager, 3).block(),
                            BoneConfig.builder()
                                    .optRank(4)
                                    .optVariant(v)
                                    .setTargetModules("0", "2")
                                    .build());
            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 3);
            Path dir = tmp.resolve(v.name());
            pm.save(dir);
            Map<String, Shape> shapes = new TreeMap<>();
            try (SafetensorsReader reader =
                    SafetensorsReader.open(dir.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
                reader.keys().forEach(k -> shapes.put(k, reader.info(k).shape()));
            }
            // layer "0" is [16, 8], "2" is [12, 16]: Bone [r, out], Bat [out / r, r, r]
            Map<String, Shape> expected =
                    v == BoneConfig.Variant.BONE
                            ? Map.of(
                                    "base_model.model.0.miss_block",
                                    new Shape(4, 16),
                                    "base_model.model.2.miss_block",
                                    new Shape(4, 12))
                            : Map.of(
                                    "base_model.model.0.miss_block",
                                    new Shape(4, 4, 4),
                                    "base_model.model.2.miss_block",
                                    new Shape(3, 4, 4));
            assertEquals(new TreeMap<>(expected), shapes);
            JsonObject json = JsonIO.readObject(dir.resolve(AdapterCheckpoint.CONFIG_FILE));
            assertEquals("MISS", json.get("peft_type").getAsString());
            assertEquals(
                    v == BoneConfig.Variant.BAT ? "bat" : "true",
                    json.get("init_weights").getAsString());
        }
    }

    @Test
    void aMissFolderAsPeftWritesItLoadsAndGivesTheDenseBatForward() throws IOException {
        JsonObject config = JsonParser.parseString(PEFT_MISS).getAsJsonObject();
        config.addProperty("r", 4);
        JsonArray targets = new JsonArray();
        targets.add("2");
        config.add("target_modules", targets);
        Path dir = Files.createDirectories(tmp.resolve("peft_bat"));
        Files.writeString(dir.resolve(AdapterCheckpoint.CONFIG_FILE), config.toString());
        SplittableRandom rnd = new SplittableRandom(4);
        float[] block = new float[3 * 4 * 4];
        for (int i = 0; i < block.length; i++) {
            block[i] = (float) (rnd.nextDouble() - 0.5) * 0.4f;
        }
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("base_model.model.2.miss_block", manager.create(block, new Shape(3, 4, 4)));
        SafetensorsWriter.write(
                dir.resolve(AdapterCheckpoint.WEIGHTS_FILE), tensors, Map.of("format", "pt"));

        PeftModel pm = PeftModel.load(TinyModels.mlp(manager, 3).block(), dir);
        BatAdapter bat = (BatAdapter) pm.adapters(PeftModel.DEFAULT).get("2");
        assertArrayEquals(block, bat.block().getArray().toFloatArray());
        double[][] w = matrix(bat.base().weight().getArray());
        double[] b = new double[block.length];
        for (int i = 0; i < b.length; i++) {
            b[i] = block[i];
        }
        assertLayerMatches(
                pm, "2", TinyModels.input(manager, new Shape(5, 16), 6), batDeltaWeight(w, b, 4));
    }

    @Test
    void adaptersDescribeThemselvesInOneLine() {
        PeftModel pm =
                PeftModel.create(
                        TinyModels.mlp(manager, 3).block(),
                        BoneConfig.builder()
                                .optRank(4)
                                .optVariant(BoneConfig.Variant.BAT)
                                .setTargetModules("2")
                                .build());
        assertEquals(
                "Bat(2: W [12, 16], r 4, miss_block [3, 4, 4])",
                pm.adapters(PeftModel.DEFAULT).get("2").toString());
        pm =
                PeftModel.create(
                        TinyModels.mlp(manager, 3).block(),
                        BoneConfig.builder().optRank(5).setTargetModules("0").build());
        assertEquals(
                "Bone(0: W [16, 8], r 5, miss_block [5, 16])",
                pm.adapters(PeftModel.DEFAULT).get("0").toString());
    }
}
