package dev.peft4j.merge.mergekit;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.merge.MergeReport;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * mergekit configs run here give what mergekit computes ({@code mergekit_reference.py}, a NumPy
 * transcription of mergekit's planner, parameter evaluation and methods): every tensor of every
 * config at 1e-5, with per-model weights and densities, gradients over the layers, filters,
 * normalize, lambda and out_dtype.
 */
class MergekitTest extends ManagedTest {

    static Path fixture() {
        try {
            return Paths.get(MergekitTest.class.getResource("expected.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static MergeReport run(String config, Path out, long seed) throws IOException {
        return Mergekit.run(
                MergekitConfig.read(fixture().resolve(config + ".yml")),
                out,
                new Mergekit.RunOptions(seed, null, dev.peft4j.merge.MergeListener.NONE, 1L << 30));
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "linear",
                "linear_filter",
                "linear_lora",
                "linear_bin",
                "task_arithmetic",
                "ties",
                "ties_gradient",
                "breadcrumbs",
                "breadcrumbs_ties",
                "dare_ties_dense",
                "della_dense",
                "slerp",
                "nuslerp",
                "nuslerp_rows",
                "model_stock",
                "model_stock_filter",
                "karcher",
                "passthrough"
            })
    void configGivesMergekitsTensors(String config, @TempDir Path tmp) throws IOException {
        JsonObject want =
                JsonArrays.resource(MergekitTest.class, "expected.json").getAsJsonObject(config);
        Path out = tmp.resolve("out");
        run(config, out, 0);
        boolean half = config.equals("passthrough"); // out_dtype float16
        try (CheckpointReader merged = CheckpointReader.open(out)) {
            assertEquals(want.keySet(), Set.copyOf(merged.keys()));
            for (String key : want.keySet()) {
                assertEquals(
                        half ? DataType.FLOAT16 : DataType.FLOAT32, merged.info(key).dtype(), key);
                NDArray actual = merged.load(key, manager, DataType.FLOAT32);
                assertAlmostEquals(
                        actual,
                        JsonArrays.array(manager, want.getAsJsonArray(key)),
                        half ? 1e-3 : 1e-5,
                        half ? 1e-3 : 1e-6);
            }
        }
        assertEquals(
                Files.readString(fixture().resolve(config + ".yml")),
                Files.readString(out.resolve("mergekit_config.yml")));
        JsonObject cfg =
                JsonParser.parseString(Files.readString(out.resolve("config.json")))
                        .getAsJsonObject();
        assertEquals(half ? "float16" : "float32", cfg.get("torch_dtype").getAsString());
    }

    /**
     * {@code slices:}: layer ranges assembled slice by slice (passthrough stacking two models'
     * ranges, slerp and TIES over slices with gradients over the slice's layers), with the output's
     * layer count in config.json.
     */
    @ParameterizedTest
    @ValueSource(strings = {"passthrough_stack", "slerp_slices", "ties_slices"})
    void slicesGiveMergekitsTensors(String config, @TempDir Path tmp) throws IOException {
        JsonObject ref = JsonArrays.resource(MergekitTest.class, "expected.json");
        JsonObject want = ref.getAsJsonObject(config);
        Path out = tmp.resolve("out");
        run(config, out, 0);
        try (CheckpointReader merged = CheckpointReader.open(out)) {
            assertEquals(want.keySet(), Set.copyOf(merged.keys()));
            for (String key : want.keySet()) {
                assertAlmostEquals(
                        merged.load(key, manager, DataType.FLOAT32),
                        JsonArrays.array(manager, want.getAsJsonArray(key)),
                        1e-5,
                        1e-6);
            }
        }
        JsonObject cfg =
                JsonParser.parseString(Files.readString(out.resolve("config.json")))
                        .getAsJsonObject();
        assertEquals(
                ref.get(config + ".layers").getAsInt(), cfg.get("num_hidden_layers").getAsInt());
    }

    /**
     * DARE: a seed gives the same bytes twice and another seed other masks; each changed entry is
     * kept whole or dropped, and the kept share is about the density.
     */
    @Test
    void dareMasksAreSeededAndKeepADensityShare(@TempDir Path tmp) throws IOException {
        Path yml = tmp.resolve("dare.yml");
        Files.writeString(
                yml,
                "merge_method: dare_linear\n"
                        + "base_model: "
                        + fixture().resolve("base")
                        + "\n"
                        + "parameters: {rescale: false}\n"
                        + "models:\n"
                        + "  - model: "
                        + fixture().resolve("m1")
                        + "\n"
                        + "    parameters: {weight: 1.0, density: 0.5}\n");
        MergekitConfig config = MergekitConfig.read(yml);
        Mergekit.RunOptions seven =
                new Mergekit.RunOptions(7, null, dev.peft4j.merge.MergeListener.NONE, 1L << 30);
        Mergekit.run(config, tmp.resolve("a"), seven);
        Mergekit.run(config, tmp.resolve("b"), seven);
        Mergekit.run(
                config,
                tmp.resolve("c"),
                new Mergekit.RunOptions(8, null, dev.peft4j.merge.MergeListener.NONE, 1L << 30));
        assertArrayEquals(
                Files.readAllBytes(tmp.resolve("a/model.safetensors")),
                Files.readAllBytes(tmp.resolve("b/model.safetensors")));
        assertFalse(
                java.util.Arrays.equals(
                        Files.readAllBytes(tmp.resolve("a/model.safetensors")),
                        Files.readAllBytes(tmp.resolve("c/model.safetensors"))));
        int kept = 0;
        int total = 0;
        try (CheckpointReader merged = CheckpointReader.open(tmp.resolve("a"));
                CheckpointReader base = CheckpointReader.open(fixture().resolve("base"));
                CheckpointReader m1 = CheckpointReader.open(fixture().resolve("m1"))) {
            for (String key : merged.keys()) {
                float[] out = merged.load(key, manager, DataType.FLOAT32).toFloatArray();
                float[] b = base.load(key, manager, DataType.FLOAT32).toFloatArray();
                float[] f = m1.load(key, manager, DataType.FLOAT32).toFloatArray();
                for (int i = 0; i < out.length; i++) {
                    total++;
                    if (Math.abs(out[i] - f[i]) <= 1e-6) { // base + (m1 - base): m1 up to rounding
                        kept++;
                    } else {
                        assertEquals(
                                b[i], out[i], 0, key + "[" + i + "] is neither kept nor dropped");
                    }
                }
            }
        }
        double share = kept / (double) total;
        assertTrue(share > 0.38 && share < 0.62, "kept share " + share + " of " + total);
    }

    /** What mergekit would silently ignore or cannot be run here is an error naming the file and key. */
    @Test
    void refusals(@TempDir Path tmp) throws IOException {
        String models =
                "models:\n  - model: "
                        + fixture().resolve("m1")
                        + "\n    parameters: {weight: 1.0, densty: 0.5}\n";
        Path typo = tmp.resolve("typo.yml");
        Files.writeString(
                typo,
                "merge_method: ties\nbase_model: " + fixture().resolve("base") + "\n" + models);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                Mergekit.run(
                                        MergekitConfig.read(typo),
                                        tmp.resolve("o"),
                                        Mergekit.RunOptions.defaults()));
        assertTrue(
                e.getMessage().contains("typo.yml") && e.getMessage().contains("'densty'"),
                e.getMessage());
        assertFalse(Files.exists(tmp.resolve("o")));

        Path noBase = tmp.resolve("nobase.yml");
        Files.writeString(
                noBase,
                "merge_method: ties\nmodels:\n  - model: " + fixture().resolve("m1") + "\n");
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                Mergekit.run(
                                        MergekitConfig.read(noBase),
                                        tmp.resolve("o"),
                                        Mergekit.RunOptions.defaults()));
        assertTrue(e.getMessage().contains("needs a base_model"), e.getMessage());

        Path hub = tmp.resolve("hub.yml");
        Files.writeString(
                hub, "merge_method: linear\nmodels:\n  - model: meta-llama/Llama-3.2-1B\n");
        e = assertThrows(IllegalArgumentException.class, () -> MergekitConfig.read(hub));
        assertTrue(
                e.getMessage().contains("models[0].model")
                        && e.getMessage().contains("not a local folder"),
                e.getMessage());

        Path tok = tmp.resolve("tok.yml");
        Files.writeString(
                tok,
                "merge_method: linear\ntokenizer_source: union\nmodels:\n  - model: "
                        + fixture().resolve("m1")
                        + "\n");
        e = assertThrows(IllegalArgumentException.class, () -> MergekitConfig.read(tok));
        assertTrue(e.getMessage().contains("tokenizer_source 'union'"), e.getMessage());

        Path method = tmp.resolve("method.yml");
        Files.writeString(
                method, "merge_method: sce\nmodels:\n  - model: " + fixture().resolve("m1") + "\n");
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                Mergekit.run(
                                        MergekitConfig.read(method),
                                        tmp.resolve("o"),
                                        Mergekit.RunOptions.defaults()));
        assertTrue(
                e.getMessage().contains("'sce'") && e.getMessage().contains("model_stock"),
                e.getMessage());
    }

    /** Gradients: {@code t = layer / (num_layers - 1)}, 0 outside the layers, interpolated as mergekit. */
    @Test
    void gradientsAndFiltersEvaluateAsMergekit() {
        Setting g = Setting.parse(java.util.List.of(0.0, 1.0, 0.5), "test");
        assertEquals(0.0, (Double) g.evaluate("x", 0), 0);
        assertEquals(0.5, (Double) g.evaluate("x", 0.25), 1e-12);
        assertEquals(0.75, (Double) g.evaluate("x", 0.75), 1e-12);
        assertEquals(0.5, (Double) g.evaluate("x", 1), 0);
        Setting c =
                Setting.parse(
                        java.util.List.of(
                                Map.of("filter", "mlp", "value", 2.0), Map.of("value", 3.0)),
                        "test");
        assertEquals(2.0, c.evaluate("model.layers.0.mlp.up_proj.weight", 0));
        assertEquals(3.0, c.evaluate("model.norm.weight", 0));
        assertEquals(0.5, Mergekit.layerPosition("model.layers.1.mlp.up_proj.weight", 3, null), 0);
        assertEquals(1.0, Mergekit.layerPosition("transformer.h.2.attn.c_attn.weight", 3, null), 0);
        assertEquals(0.0, Mergekit.layerPosition("model.embed_tokens.weight", 3, null), 0);
    }
}
