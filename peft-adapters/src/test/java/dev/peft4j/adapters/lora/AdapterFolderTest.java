package dev.peft4j.adapters.lora;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.AdaptedLayer;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.SafetensorsWriter;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.tree.ModuleTree;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapter folders: PEFT's layout in both directions, atomicity and errors naming file and tensor. */
class AdapterFolderTest {

    private final NDManager manager = NDManager.newBaseManager();

    @TempDir Path tmp;

    @AfterEach
    void close() {
        manager.close();
    }

    /** A safetensors file written byte by byte from the format spec, independent of our writer. */
    static byte[] safetensors(LinkedHashMap<String, float[]> tensors, Map<String, long[]> shapes) {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Map.Entry<String, float[]> e : tensors.entrySet()) {
            long end = offset + 4L * e.getValue().length;
            StringBuilder shape = new StringBuilder();
            for (long d : shapes.get(e.getKey())) {
                shape.append(shape.length() == 0 ? "" : ",").append(d);
            }
            h.append(",\"")
                    .append(e.getKey())
                    .append("\":{\"dtype\":\"F32\",\"shape\":[")
                    .append(shape)
                    .append("],\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(end)
                    .append("]}");
            offset = end;
        }
        h.append('}');
        while (h.length() % 8 != 0) {
            h.append(' ');
        }
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf =
                ByteBuffer.allocate(8 + header.length + (int) offset)
                        .order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length).put(header);
        tensors.values()
                .forEach(
                        v -> {
                            for (float f : v) {
                                buf.putFloat(f);
                            }
                        });
        return buf.array();
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextDouble() - 0.5);
        }
        return v;
    }

    /** The MLP's forward in double precision with {@code W + s B A} on layers 0 and 2. */
    private static double[] denseMlp(
            Map<String, float[]> p, float[][] a, float[][] b, double s, float[] x, int rows) {
        int[] dims = {8, 16, 12, 4};
        double[] h = new double[rows * 8];
        for (int i = 0; i < h.length; i++) {
            h[i] = x[i];
        }
        for (int layer = 0; layer < 3; layer++) {
            int n = dims[layer];
            int m = dims[layer + 1];
            float[] w = p.get(layer * 2 + "_weight");
            float[] bias = p.get(layer * 2 + "_bias");
            double[] out = new double[rows * m];
            for (int t = 0; t < rows; t++) {
                for (int i = 0; i < m; i++) {
                    double acc = bias[i];
                    for (int j = 0; j < n; j++) {
                        double wij = w[i * n + j];
                        if (layer < 2) {
                            for (int k = 0; k < 2; k++) {
                                wij += s * b[layer][i * 2 + k] * a[layer][k * n + j];
                            }
                        }
                        acc += wij * h[t * n + j];
                    }
                    out[t * m + i] = layer < 2 ? Math.max(0, acc) : acc;
                }
            }
            h = out;
        }
        return h;
    }

    @Test
    void aFolderLaidOutAsPeftWritesItLoadsAndMatchesTheDenseForward() throws IOException {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 21);
        Map<String, float[]> base = new LinkedHashMap<>();
        ModuleTree.modules(mlp.block())
                .forEach(
                        (path, blk) ->
                                blk.getDirectParameters()
                                        .forEach(
                                                p ->
                                                        base.put(
                                                                path + "_" + p.getKey(),
                                                                p.getValue()
                                                                        .getArray()
                                                                        .toFloatArray())));
        SplittableRandom rnd = new SplittableRandom(3);
        float[][] a = {random(rnd, 2 * 8), random(rnd, 2 * 16)};
        float[][] b = {random(rnd, 16 * 2), random(rnd, 12 * 2)};
        LinkedHashMap<String, float[]> tensors = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        String[] paths = {"0", "2"};
        long[][] ab = {{2, 8}, {16, 2}, {2, 16}, {12, 2}};
        for (int l = 0; l < 2; l++) {
            String pre = "base_model.model." + paths[l];
            tensors.put(pre + ".lora_A.weight", a[l]);
            shapes.put(pre + ".lora_A.weight", ab[2 * l]);
            tensors.put(pre + ".lora_B.weight", b[l]);
            shapes.put(pre + ".lora_B.weight", ab[2 * l + 1]);
        }
        Path dir = Files.createDirectories(tmp.resolve("peft"));
        Files.write(dir.resolve("adapter_model.safetensors"), safetensors(tensors, shapes));
        Files.writeString(
                dir.resolve("adapter_config.json"),
                "{\n"
                        + "  \"alpha_pattern\": {},\n"
                        + "  \"base_model_name_or_path\": null,\n"
                        + "  \"bias\": \"none\",\n"
                        + "  \"fan_in_fan_out\": false,\n"
                        + "  \"inference_mode\": true,\n"
                        + "  \"init_lora_weights\": true,\n"
                        + "  \"lora_alpha\": 5,\n"
                        + "  \"lora_dropout\": 0.0,\n"
                        + "  \"modules_to_save\": null,\n"
                        + "  \"peft_type\": \"LORA\",\n"
                        + "  \"r\": 2,\n"
                        + "  \"rank_pattern\": {},\n"
                        + "  \"target_modules\": [\n"
                        + "    \"0\",\n"
                        + "    \"2\"\n"
                        + "  ],\n"
                        + "  \"task_type\": null,\n"
                        + "  \"use_dora\": false,\n"
                        + "  \"use_rslora\": false\n"
                        + "}\n");
        PeftModel pm = PeftModel.load(mlp.block(), dir);
        NDArray x = TinyModels.input(manager, mlp.inputShape(), 2);
        double[] expected = denseMlp(base, a, b, 5.0 / 2, x.toFloatArray(), 5);
        assertAlmostEquals(
                NdAssert.toDoubles(TinyModels.forward(pm.root(), x)), expected, 1e-5, 1e-6);
    }

    @Test
    void savedFolderHasPeftsLayout() throws IOException {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 21);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(),
                        LoraConfig.builder()
                                .optRank(2)
                                .optAlpha(4)
                                .setTargetModules("0", "4")
                                .optModulesToSave("2")
                                .build());
        Path dir = tmp.resolve("out");
        pm.save(dir);
        String json = Files.readString(dir.resolve("adapter_config.json"));
        assertTrue(
                json.startsWith(
                        "{\n  \"alpha_pattern\": {},\n  \"base_model_name_or_path\": null,"),
                json);
        JsonObject cfg = JsonParser.parseString(json).getAsJsonObject();
        assertEquals("LORA", cfg.get("peft_type").getAsString());
        byte[] bytes = Files.readAllBytes(dir.resolve("adapter_model.safetensors"));
        long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonObject header =
                JsonParser.parseString(
                                new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8))
                        .getAsJsonObject();
        assertEquals("pt", header.getAsJsonObject("__metadata__").get("format").getAsString());
        assertEquals(
                "[2,8]",
                header.getAsJsonObject("base_model.model.0.lora_A.weight").get("shape").toString());
        assertEquals(
                "[16,2]",
                header.getAsJsonObject("base_model.model.0.lora_B.weight").get("shape").toString());
        assertEquals(
                "[2,12]",
                header.getAsJsonObject("base_model.model.4.lora_A.weight").get("shape").toString());
        assertEquals(
                "[12,16]",
                header.getAsJsonObject("base_model.model.2.weight").get("shape").toString());
        assertEquals(
                "[12]", header.getAsJsonObject("base_model.model.2.bias").get("shape").toString());
        assertEquals(7, header.size());
    }

    @Test
    void modulesToSaveAreRestoredIncludingThePeftModulesToSaveKeyForm() throws IOException {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 21);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(),
                        LoraConfig.builder()
                                .optRank(2)
                                .setTargetModules("0")
                                .optModulesToSave("4")
                                .build());
        AdapterChecks.randomizeAdapters(pm, "default", 1);
        Parameter head = ModuleTree.get(pm.root(), "4").getDirectParameters().get("weight");
        assertTrue(head.requiresGradient());
        head.getArray().set(random(new SplittableRandom(4), 48));
        NDArray x = TinyModels.input(manager, mlp.inputShape(), 2);
        NDArray expected = TinyModels.forward(pm.root(), x);
        Path dir = tmp.resolve("heads");
        pm.save(dir);
        assertAlmostEquals(
                TinyModels.forward(
                        PeftModel.load(TinyModels.mlp(manager, 21).block(), dir).root(), x),
                expected,
                1e-6,
                1e-7);
        // older PEFT versions saved <module>.modules_to_save.<param>
        LinkedHashMap<String, NDArray> t = AdapterCheckpoint.tensors(pm, "default");
        LinkedHashMap<String, NDArray> renamed = new LinkedHashMap<>();
        t.forEach((k, v) -> renamed.put(k.replace("model.4.", "model.4.modules_to_save."), v));
        SafetensorsWriter.write(
                dir.resolve("adapter_model.safetensors"), renamed, Map.of("format", "pt"));
        assertAlmostEquals(
                TinyModels.forward(
                        PeftModel.load(TinyModels.mlp(manager, 21).block(), dir).root(), x),
                expected,
                1e-6,
                1e-7);
    }

    @Test
    void severalAdaptersSaveLikeSavePretrained() throws IOException {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 21);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(), LoraConfig.builder().optRank(2).setTargetModules("0").build());
        pm.addAdapter("second", LoraConfig.builder().optRank(3).setTargetModules("2").build());
        AdapterChecks.randomizeAdapters(pm, "second", 3);
        pm.setActiveAdapters("second");
        NDArray x = TinyModels.input(manager, mlp.inputShape(), 2);
        NDArray expected = TinyModels.forward(pm.root(), x);
        Path dir = tmp.resolve("multi");
        pm.save(dir);
        assertTrue(Files.exists(dir.resolve("adapter_config.json")));
        assertTrue(Files.exists(dir.resolve("second/adapter_model.safetensors")));
        PeftModel other =
                PeftModel.of(TinyModels.mlp(manager, 21).block())
                        .loadAdapter(dir.resolve("second"), "second");
        assertAlmostEquals(TinyModels.forward(other.root(), x), expected, 1e-6, 1e-7);
    }

    private Path savedFolder() throws IOException {
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 21);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(),
                        LoraConfig.builder().optRank(2).setTargetModules("0", "2").build());
        AdapterChecks.randomizeAdapters(pm, "default", 1);
        Path dir = tmp.resolve("saved");
        pm.save(dir);
        return dir;
    }

    private void assertLoadFails(Path dir, String... fragments) {
        TinyModels.TinyModel fresh = TinyModels.mlp(manager, 21);
        Exception e = assertThrows(Exception.class, () -> PeftModel.load(fresh.block(), dir));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' not in: " + e.getMessage());
        }
        ModuleTree.modules(fresh.block())
                .values()
                .forEach(b -> assertFalse(b instanceof AdaptedLayer));
    }

    @Test
    void missingExtraAndMisshapedTensorsAreNamed() throws IOException {
        Path dir = savedFolder();
        Path weights = dir.resolve("adapter_model.safetensors");
        LinkedHashMap<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> s = new LinkedHashMap<>();
        t.put("base_model.model.0.lora_A.weight", new float[16]);
        s.put("base_model.model.0.lora_A.weight", new long[] {2, 8});
        t.put("base_model.model.0.lora_B.weight", new float[32]);
        s.put("base_model.model.0.lora_B.weight", new long[] {16, 2});
        t.put("base_model.model.2.lora_A.weight", new float[32]);
        s.put("base_model.model.2.lora_A.weight", new long[] {2, 16});
        Files.write(weights, safetensors(t, s));
        assertLoadFails(
                dir, "adapter_model.safetensors", "missing", "base_model.model.2.lora_B.weight");

        t.put("base_model.model.2.lora_B.weight", new float[24]);
        s.put("base_model.model.2.lora_B.weight", new long[] {12, 2});
        t.put("base_model.model.9.lora_A.weight", new float[2]);
        s.put("base_model.model.9.lora_A.weight", new long[] {2, 1});
        Files.write(weights, safetensors(t, s));
        assertLoadFails(
                dir, "adapter_model.safetensors", "unexpected", "base_model.model.9.lora_A.weight");

        t.remove("base_model.model.9.lora_A.weight");
        t.put("base_model.model.2.lora_B.weight", new float[12]);
        s.put("base_model.model.2.lora_B.weight", new long[] {12, 1});
        Files.write(weights, safetensors(t, s));
        assertLoadFails(dir, "adapter_model.safetensors", "lora_B.weight", "(12, 1)", "(12, 2)");
    }

    @Test
    void nanWeightsInAFileAreRejected() throws IOException {
        Path dir = savedFolder();
        LinkedHashMap<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> s = new LinkedHashMap<>();
        float[] nan = new float[16];
        nan[5] = Float.NaN;
        t.put("base_model.model.0.lora_A.weight", nan);
        s.put("base_model.model.0.lora_A.weight", new long[] {2, 8});
        t.put("base_model.model.0.lora_B.weight", new float[32]);
        s.put("base_model.model.0.lora_B.weight", new long[] {16, 2});
        t.put("base_model.model.2.lora_A.weight", new float[32]);
        s.put("base_model.model.2.lora_A.weight", new long[] {2, 16});
        t.put("base_model.model.2.lora_B.weight", new float[24]);
        s.put("base_model.model.2.lora_B.weight", new long[] {12, 2});
        Files.write(dir.resolve("adapter_model.safetensors"), safetensors(t, s));
        assertLoadFails(dir, "lora_A.weight", "NaN");
    }

    @Test
    void corruptOrTruncatedFilesAndUnknownTypesAreNamed() throws IOException {
        Path dir = savedFolder();
        Path weights = dir.resolve("adapter_model.safetensors");
        byte[] good = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(good, good.length - 10));
        assertLoadFails(dir, "adapter_model.safetensors");
        Files.write(weights, Arrays.copyOf(good, 20));
        assertLoadFails(dir, "adapter_model.safetensors");
        byte[] bad = good.clone();
        bad[9] = '#';
        Files.write(weights, bad);
        assertLoadFails(dir, "adapter_model.safetensors");
        Files.write(weights, good);
        String cfg = Files.readString(dir.resolve("adapter_config.json"));
        Files.writeString(dir.resolve("adapter_config.json"), cfg.replace("\"LORA\"", "\"LORAX\""));
        assertLoadFails(dir, "adapter_config.json", "LORAX", "LORA");
        Files.writeString(
                dir.resolve("adapter_config.json"), cfg.replace("\"peft_type\": \"LORA\",", ""));
        assertLoadFails(dir, "adapter_config.json", "peft_type");
        assertLoadFails(tmp.resolve("nowhere"), "adapter_config.json");
    }

    @Test
    void aRefusedSaveLeavesTheExistingFolderUntouched() throws IOException {
        Path dir = savedFolder();
        byte[] before = Files.readAllBytes(dir.resolve("adapter_model.safetensors"));
        String cfgBefore = Files.readString(dir.resolve("adapter_config.json"));
        TinyModels.TinyModel mlp = TinyModels.mlp(manager, 21);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(), LoraConfig.builder().optRank(4).setTargetModules("0").build());
        float[] nan = new float[64];
        nan[0] = Float.POSITIVE_INFINITY;
        ((LoraAdapter) pm.adapters("default").get("0")).loraB().getArray().set(nan);
        Exception e = assertThrows(IllegalStateException.class, () -> pm.save(dir));
        assertTrue(e.getMessage().contains("base_model.model.0.lora_B.weight"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("adapter_model.safetensors")));
        assertEquals(cfgBefore, Files.readString(dir.resolve("adapter_config.json")));
        try (var files = Files.list(tmp)) {
            assertEquals(1, files.count(), "no temporary folders left behind");
        }
    }
}
