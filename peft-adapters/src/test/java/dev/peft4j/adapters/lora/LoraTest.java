package dev.peft4j.adapters.lora;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.AdaptedLayer;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.tree.ModuleTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LoraTest {

    private final NDManager manager = NDManager.newBaseManager();

    @AfterEach
    void close() {
        manager.close();
    }

    /** {@code y = x W^T + b + s (x A^T) B^T}, written out in double precision. */
    private static double[][] denseLora(
            float[][] x,
            float[] w,
            float[] b,
            float[] a,
            float[] bb,
            int m,
            int n,
            int r,
            double s) {
        double[][] y = new double[x.length][m];
        for (int t = 0; t < x.length; t++) {
            double[] h = new double[r];
            for (int k = 0; k < r; k++) {
                for (int j = 0; j < n; j++) {
                    h[k] += a[k * n + j] * x[t][j];
                }
            }
            for (int i = 0; i < m; i++) {
                double acc = b[i];
                for (int j = 0; j < n; j++) {
                    acc += w[i * n + j] * x[t][j];
                }
                for (int k = 0; k < r; k++) {
                    acc += s * bb[i * r + k] * h[k];
                }
                y[t][i] = acc;
            }
        }
        return y;
    }

    @Test
    void forwardMatchesTheDenseFormulaWithRsloraAndPatterns() {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        LoraConfig cfg =
                LoraConfig.builder()
                        .optRank(2)
                        .optAlpha(6)
                        .optUseRslora(true)
                        .optRankPattern(Map.of("2", 5))
                        .optAlphaPattern(Map.of("2", 10))
                        .setTargetModules("0", "2")
                        .build();
        PeftModel pm = PeftModel.create(mlp.block(), cfg);
        AdapterChecks.randomizeAdapters(pm, "default", 9);
        LoraAdapter first = (LoraAdapter) pm.adapters("default").get("0");
        LoraAdapter second = (LoraAdapter) pm.adapters("default").get("2");
        assertEquals(2, first.rank());
        assertEquals(6 / Math.sqrt(2), first.scaling(), 1e-12);
        assertEquals(5, second.rank());
        assertEquals(10 / Math.sqrt(5), second.scaling(), 1e-12);

        NDArray x = TinyModels.input(manager, new Shape2(5, 8).shape(), 4);
        Block layer = ModuleTree.get(pm.root(), "0");
        NDArray y =
                layer.forward(new ParameterStore(manager, false), new NDList(x), false)
                        .singletonOrThrow();
        Linear base = (Linear) ((AdaptedLayer) layer).base().block();
        float[][] xs = new float[5][];
        for (int i = 0; i < 5; i++) {
            xs[i] = x.get(i).toFloatArray();
        }
        double[][] expected =
                denseLora(
                        xs,
                        base.getParameters().get("weight").getArray().toFloatArray(),
                        base.getParameters().get("bias").getArray().toFloatArray(),
                        first.loraA().getArray().toFloatArray(),
                        first.loraB().getArray().toFloatArray(),
                        16,
                        8,
                        2,
                        first.scaling());
        double[] flat = new double[5 * 16];
        for (int i = 0; i < 5; i++) {
            System.arraycopy(expected[i], 0, flat, i * 16, 16);
        }
        assertAlmostEquals(NdAssert.toDoubles(y), flat, 1e-5, 1e-6);
    }

    /** Shape helper to keep lines short. */
    private record Shape2(long a, long b) {
        Shape shape() {
            return new Shape(a, b);
        }
    }

    @Test
    void defaultInitIsKaimingUniformAWithZeroBSoTheOutputIsUnchanged() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        NDArray x = TinyModels.input(manager, t.inputShape(), 1);
        float[] before = TinyModels.forward(t.block(), x).toFloatArray();
        PeftModel pm =
                PeftModel.create(
                        t.block(),
                        LoraConfig.builder().optRank(8).setTargetModules("query", "fc1").build());
        assertArrayEquals(before, TinyModels.forward(pm.root(), x).toFloatArray());
        for (var e : pm.adapters("default").entrySet()) {
            LoraAdapter a = (LoraAdapter) e.getValue();
            double bound = 1 / Math.sqrt(a.base().inFeatures());
            float[] av = a.loraA().getArray().toFloatArray();
            double sq = 0;
            for (float v : av) {
                assertTrue(Math.abs(v) <= bound, e.getKey());
                sq += v * v;
            }
            // variance of U(-c, c) is c^2 / 3; 96 samples: allow 40 %
            assertEquals(bound * bound / 3, sq / av.length, 0.4 * bound * bound / 3, e.getKey());
            assertEquals(0f, a.loraB().getArray().abs().max().getFloat());
        }
    }

    @Test
    void gaussianInitHasStdOneOverR() {
        Block big = new SequentialBlock().add(Linear.builder().setUnits(64).build());
        TinyModels.init(big, manager, new Shape(1, 256), 1);
        PeftModel pm =
                PeftModel.create(
                        big,
                        LoraConfig.builder()
                                .optRank(4)
                                .optInitLoraWeights("gaussian")
                                .setTargetModules("0")
                                .build());
        float[] a =
                ((LoraAdapter) pm.adapters("default").get("0")).loraA().getArray().toFloatArray();
        double sq = 0;
        for (float v : a) {
            sq += v * v;
        }
        double std = Math.sqrt(sq / a.length); // 1024 samples: relative error of the std ~ 2 %
        assertEquals(0.25, std, 0.025);
    }

    @Test
    void initialisationIsSeededPerModule() {
        LoraConfig cfg =
                LoraConfig.builder().optRank(4).optInitSeed(7).setTargetModules("0", "2").build();
        float[] a1 =
                ((LoraAdapter)
                                PeftModel.create(TinyModels.mlp(manager, 1).block(), cfg)
                                        .adapters("default")
                                        .get("0"))
                        .loraA()
                        .getArray()
                        .toFloatArray();
        PeftModel again = PeftModel.create(TinyModels.mlp(manager, 1).block(), cfg);
        assertArrayEquals(
                a1,
                ((LoraAdapter) again.adapters("default").get("0"))
                        .loraA()
                        .getArray()
                        .toFloatArray());
        assertFalse(
                Arrays.equals(
                        a1,
                        ((LoraAdapter) again.adapters("default").get("2"))
                                .loraA()
                                .getArray()
                                .toFloatArray()));
    }

    @Test
    void dropoutActsOnlyWhileTraining() {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(),
                        LoraConfig.builder()
                                .optRank(4)
                                .optDropout(0.5)
                                .setTargetModules("0")
                                .build());
        AdapterChecks.randomizeAdapters(pm, "default", 2);
        Block layer = ModuleTree.get(pm.root(), "0");
        NDArray x = TinyModels.input(manager, new Shape(64, 8), 1);
        ParameterStore ps = new ParameterStore(manager, false);
        NDArray eval1 = layer.forward(ps, new NDList(x), false).singletonOrThrow();
        NDArray eval2 = layer.forward(ps, new NDList(x), false).singletonOrThrow();
        NDArray train = layer.forward(ps, new NDList(x), true).singletonOrThrow();
        assertArrayEquals(eval1.toFloatArray(), eval2.toFloatArray());
        assertFalse(Arrays.equals(eval1.toFloatArray(), train.toFloatArray()));
    }

    @Test
    void adaptersDisabledScopeGivesTheBaseAndNestsWithoutACheckedClose() {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        NDArray x = TinyModels.input(manager, mlp.inputShape(), 1);
        float[] base = TinyModels.forward(mlp.block(), x).toFloatArray();
        PeftModel pm =
                PeftModel.create(
                        mlp.block(), LoraConfig.builder().optRank(2).setTargetModules("0").build());
        AdapterChecks.randomizeAdapters(pm, "default", 1);
        float[] adapted = TinyModels.forward(pm.root(), x).toFloatArray();
        assertFalse(Arrays.equals(base, adapted));
        // no catch clause: close() declares no exception
        try (PeftModel.AdaptersDisabled outer = pm.withAdaptersDisabled()) {
            assertArrayEquals(base, TinyModels.forward(pm.root(), x).toFloatArray());
            try (PeftModel.AdaptersDisabled inner = pm.withAdaptersDisabled()) {
                assertTrue(pm.adaptersDisabled());
            }
            assertTrue(pm.adaptersDisabled(), "closing the inner scope keeps the outer one");
        }
        assertFalse(pm.adaptersDisabled());
        assertArrayEquals(adapted, TinyModels.forward(pm.root(), x).toFloatArray());
    }

    @Test
    void severalAdaptersAddAndCanBeActivatedAndDeleted() {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        NDArray x = TinyModels.input(manager, mlp.inputShape(), 1);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(), LoraConfig.builder().optRank(2).setTargetModules("0").build());
        pm.addAdapter("other", LoraConfig.builder().optRank(3).setTargetModules("0", "4").build());
        AdapterChecks.randomizeAdapters(pm, "default", 1);
        AdapterChecks.randomizeAdapters(pm, "other", 2);
        assertEquals(List.of("default"), pm.activeAdapters());
        pm.disableAdapters();
        NDArray base = TinyModels.forward(pm.root(), x);
        pm.enableAdapters();
        NDArray onlyDefault = TinyModels.forward(pm.root(), x);
        pm.setActiveAdapters("other");
        NDArray onlyOther = TinyModels.forward(pm.root(), x);
        // only "other" trains now: r 3 on layer "0" (8 -> 16) and on layer "4" (12 -> 4)
        assertEquals(3L * (16 + 8) + 3L * (4 + 12), pm.trainableParameterCount());
        pm.setActiveAdapters("default", "other");
        NDArray both = TinyModels.forward(pm.root(), x);
        assertFalse(Arrays.equals(onlyDefault.toFloatArray(), onlyOther.toFloatArray()));
        // layer "0" gets both deltas; "4" only the other's: checked through merge equivalence and
        // removal
        pm.merge();
        assertAlmostEquals(TinyModels.forward(pm.root(), x), both, 1e-4, 1e-6);
        pm.unmerge();
        pm.deleteAdapter("other");
        assertInstanceOf(Linear.class, ModuleTree.get(pm.root(), "4"));
        assertFalse(ModuleTree.get(pm.root(), "4") instanceof AdaptedLayer);
        // merge then unmerge restores the weights up to float rounding
        assertAlmostEquals(TinyModels.forward(pm.root(), x), onlyDefault, 1e-5, 1e-6);
        pm.deleteAdapter("default");
        assertAlmostEquals(TinyModels.forward(pm.root(), x), base, 1e-5, 1e-6);
        assertFalse(ModuleTree.get(pm.root(), "0") instanceof AdaptedLayer);
    }

    @Test
    void mergeAndUnloadGivesAPlainModelWithTheAdaptedOutput() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        NDArray x = TinyModels.input(manager, t.inputShape(), 1);
        PeftModel pm =
                PeftModel.create(
                        t.block(),
                        LoraConfig.builder().optRank(4).setTargetModules("query", "value").build());
        AdapterChecks.randomizeAdapters(pm, "default", 5);
        NDArray adapted = TinyModels.forward(pm.root(), x);
        Block plain = pm.mergeAndUnload();
        ModuleTree.modules(plain).values().forEach(b -> assertFalse(b instanceof AdaptedLayer));
        assertAlmostEquals(TinyModels.forward(plain, x), adapted, 1e-4, 1e-6);
        assertEquals(pm.totalParameterCount(), pm.trainableParameterCount());
    }

    @Test
    void targetThatMatchesNothingNamesTheClosestModules() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                PeftModel.create(
                                        t.block(),
                                        LoraConfig.builder()
                                                .setTargetModules("query", "vlaue")
                                                .build()));
        assertTrue(
                e.getMessage().contains("vlaue") && e.getMessage().contains("layers.0.value"),
                e.getMessage());
        // nothing was injected by the failed call
        ModuleTree.modules(t.block()).values().forEach(b -> assertFalse(b instanceof AdaptedLayer));
    }

    @Test
    void targetingANonLinearModuleIsAnError() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                PeftModel.create(
                                        t.block(),
                                        LoraConfig.builder().setTargetModules("norm").build()));
        assertTrue(
                e.getMessage().contains("layers.0.norm") && e.getMessage().contains("Linear"),
                e.getMessage());
    }

    @Test
    void mergingANonFiniteAdapterIsRefused() {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(), LoraConfig.builder().optRank(2).setTargetModules("2").build());
        LoraAdapter a = (LoraAdapter) pm.adapters("default").get("2");
        float[] nan = new float[(int) a.loraB().getArray().size()];
        nan[3] = Float.NaN;
        a.loraB().getArray().set(nan);
        float[] before =
                ((AdaptedLayer) ModuleTree.get(pm.root(), "2"))
                        .base()
                        .weight()
                        .getArray()
                        .toFloatArray();
        IllegalStateException e = assertThrows(IllegalStateException.class, pm::merge);
        assertTrue(
                e.getMessage().contains("'2'") && e.getMessage().contains("NaN"), e.getMessage());
        assertArrayEquals(
                before,
                ((AdaptedLayer) ModuleTree.get(pm.root(), "2"))
                        .base()
                        .weight()
                        .getArray()
                        .toFloatArray());
    }

    @Test
    void configRoundTripsThroughPeftJson() {
        LoraConfig cfg =
                LoraConfig.builder()
                        .optRank(16)
                        .optAlpha(32)
                        .optDropout(0.05)
                        .optUseRslora(true)
                        .optRankPattern(Map.of("query", 4))
                        .optAlphaPattern(Map.of("value", 2.5))
                        .setTargetModules("query", "value")
                        .optModulesToSave("classifier")
                        .optTaskType("SEQ_CLS")
                        .build();
        JsonObject json = cfg.toJson();
        assertEquals("LORA", json.get("peft_type").getAsString());
        assertEquals(16, json.get("r").getAsInt());
        assertEquals(32, json.get("lora_alpha").getAsInt());
        LoraConfig back =
                (LoraConfig)
                        AdapterMethods.forType("LORA", "t").fromJson(new ConfigJson(json, "t"));
        assertEquals(json, back.toJson());
        assertEquals(4, back.rankFor("a.query"));
        assertEquals(2.5 / Math.sqrt(16), back.scalingFor("a.value"), 1e-12);
    }

    /**
     * PEFT keys that change the forward, set to a non-default value, and init_lora_weights values
     * we do not implement are refused naming the file and the key or value; at their defaults
     * (as PEFT writes them: false, null, empty) they parse.
     */
    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "layer_replication|[[0, 2]]",
                "use_qalora|true",
                "alora_invocation_tokens|[1, 2]",
                "target_parameters|[\"experts.gate_up_proj\"]",
                "use_bdlora|{\"nblocks\": 2}",
                "kasa_config|{\"beta\": 1}",
                "arrow_config|{\"top_k\": 3}",
                "velora_config|{\"rank\": 4}",
                "monteclora_config|{\"num_samples\": 2}",
                "trainable_token_indices|[5]",
                "init_lora_weights|\"corda\"",
                "init_lora_weights|\"loftq\"",
                "init_lora_weights|\"mica\""
            })
    void variantKeysAndUnimplementedInitsAreRefusedByName(String key, String value) {
        JsonObject json =
                JsonParser.parseString(
                                "{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\":"
                                        + " [\"q\"], \"lora_bias\": false, \"use_qalora\":"
                                        + " false, \"alora_invocation_tokens\": null,"
                                        + " \"target_parameters\": [], \"use_bdlora\": null}")
                        .getAsJsonObject();
        assertEquals(4, LoraConfig.fromJson(new ConfigJson(json, "a/adapter_config.json")).r());
        json.add(key, JsonParser.parseString(value));
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> LoraConfig.fromJson(new ConfigJson(json, "a/adapter_config.json")));
        String named =
                key.equals("init_lora_weights") ? JsonParser.parseString(value).getAsString() : key;
        assertTrue(
                e.getMessage().contains("a/adapter_config.json")
                        && e.getMessage().contains("'" + named + "'"),
                e.getMessage());
    }

    /**
     * As PEFT's check_target_module_exists, a module inside (or equal to) a modules_to_save entry
     * never gets an adapter, even when a target name matches it: target "head" and "query" with
     * modules_to_save ["head"] adapts the queries only and saves the head in full.
     */
    @Test
    void modulesToSaveAreNeverAdapted() {
        TinyModels.TinyModel t = TinyModels.transformer(manager, 3);
        PeftModel pm =
                PeftModel.create(
                        t.block(),
                        LoraConfig.builder()
                                .optRank(2)
                                .setTargetModules("query", "head")
                                .optModulesToSave("head")
                                .build());
        assertEquals(
                List.of("layers.0.query", "layers.1.query"),
                List.copyOf(pm.adapters(PeftModel.DEFAULT).keySet()));
        assertEquals(List.of("head"), List.copyOf(pm.modulesToSave(PeftModel.DEFAULT).keySet()));
        // and nothing inside a saved module: layers.1 saved whole, its query left unadapted
        TinyModels.TinyModel u = TinyModels.transformer(manager, 4);
        PeftModel inside =
                PeftModel.create(
                        u.block(),
                        LoraConfig.builder()
                                .optRank(2)
                                .setTargetModules("query")
                                .optModulesToSave("layers.1")
                                .build());
        assertEquals(
                List.of("layers.0.query"),
                List.copyOf(inside.adapters(PeftModel.DEFAULT).keySet()));
    }

    @Test
    void aConfigAsPeftWritesItParsesAndUnsupportedOptionsAreErrors() {
        String peft =
                "{\"alpha_pattern\": {}, \"auto_mapping\": null, \"base_model_name_or_path\":"
                    + " \"m\", \"bias\": \"none\", \"corda_config\": null, \"eva_config\": null,"
                    + " \"exclude_modules\": null, \"fan_in_fan_out\": false, \"inference_mode\":"
                    + " true, \"init_lora_weights\": true, \"layer_replication\": null,"
                    + " \"layers_pattern\": null, \"layers_to_transform\": null, \"loftq_config\":"
                    + " {}, \"lora_alpha\": 16, \"lora_bias\": false, \"lora_dropout\": 0.1,"
                    + " \"megatron_config\": null, \"megatron_core\": \"megatron.core\","
                    + " \"modules_to_save\": null, \"peft_type\": \"LORA\", \"r\": 8,"
                    + " \"rank_pattern\": {}, \"revision\": null, \"target_modules\": [\"value\","
                    + " \"query\"], \"task_type\": null, \"use_dora\": false, \"use_rslora\":"
                    + " false}";
        ConfigJson json =
                new ConfigJson(
                        JsonParser.parseString(peft).getAsJsonObject(), "adapter_config.json");
        LoraConfig cfg = LoraConfig.fromJson(json);
        assertEquals(8, cfg.r());
        assertEquals(2.0, cfg.scalingFor("x.query"), 1e-12);
        assertTrue(json.warnUnknownKeys().contains("corda_config"));

        JsonObject fanInFanOut = JsonParser.parseString(peft).getAsJsonObject();
        fanInFanOut.addProperty("fan_in_fan_out", true);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                LoraConfig.fromJson(
                                        new ConfigJson(fanInFanOut, "adapter_config.json")));
        assertTrue(
                e.getMessage().contains("adapter_config.json")
                        && e.getMessage().contains("fan_in_fan_out"));
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> AdapterMethods.forType("FOO", "adapter_config.json"));
        assertTrue(e.getMessage().contains("FOO") && e.getMessage().contains("LORA"));
        assertThrows(
                IllegalArgumentException.class,
                () -> LoraConfig.builder().optRank(0).setTargetModules("q").build());
        assertThrows(IllegalArgumentException.class, () -> LoraConfig.builder().optRank(2).build());
        assertThrows(
                IllegalArgumentException.class,
                () ->
                        LoraConfig.builder()
                                .optRank(2)
                                .optDropout(1.0)
                                .setTargetModules(TargetModules.names("q"))
                                .build());
    }

    /**
     * A PiSSA or OLoRA folder needs its initializer at load (PEFT redoes the decomposition on the
     * base): without peft-init on the class path the load is refused by name instead of giving
     * plain LoRA's outputs; an orthogonal folder, whose base PEFT leaves alone, loads as plain.
     */
    @ParameterizedTest
    @CsvSource({"olora,true", "pissa_niter_4,true", "orthogonal,false"})
    void residualFoldersNeedTheirInitializerAtLoad(String init, boolean refused, @TempDir Path dir)
            throws IOException {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 3);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(), LoraConfig.builder().optRank(2).setTargetModules("0").build());
        pm.save(dir);
        Path config = dir.resolve("adapter_config.json");
        JsonObject json = JsonParser.parseString(Files.readString(config)).getAsJsonObject();
        json.addProperty("init_lora_weights", init);
        Files.writeString(config, json.toString());
        if (refused) {
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> PeftModel.load(TinyModels.mlp(manager, 3).block(), dir));
            assertTrue(
                    e.getMessage().contains(init) && e.getMessage().contains("peft-init"),
                    e.getMessage());
        } else {
            NDArray x = TinyModels.input(manager, mlp.inputShape(), 2);
            assertAlmostEquals(
                    TinyModels.forward(
                            PeftModel.load(TinyModels.mlp(manager, 3).block(), dir).root(), x),
                    TinyModels.forward(pm.root(), x),
                    0,
                    0);
        }
    }
}
