package dev.peft4j.merge.weighted;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.merge.weighted.WeightedAdapters.Combination;
import dev.peft4j.merge.weighted.WeightedAdapters.Options;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link WeightedAdapters} against {@code weighted_reference.py} (PEFT's add_weighted_adapter and
 * merge_utils transcribed with NumPy): every deterministic combination gives PEFT's change per
 * layer (1e-5), with rsLoRA and rank_pattern sources; and the invariants of the rest.
 */
class WeightedAdaptersTest extends ManagedTest {

    private static JsonObject reference() {
        return JsonArrays.resource(WeightedAdaptersTest.class, "reference.json");
    }

    static Stream<Integer> cases() throws IOException {
        return IntStream.range(0, reference().getAsJsonArray("cases").size()).boxed();
    }

    /** The reference's model with its three adapters, factors from the reference. */
    private PeftModel model(JsonObject ref) {
        SequentialBlock root = new SequentialBlock();
        root.add(Linear.builder().setUnits(8).optBias(false).build());
        root.add(Linear.builder().setUnits(5).optBias(false).build());
        root.initialize(manager, DataType.FLOAT32, new Shape(1, 6));
        PeftModel pm = PeftModel.of(root);
        for (Map.Entry<String, JsonElement> a : ref.getAsJsonObject("adapters").entrySet()) {
            JsonObject json = a.getValue().getAsJsonObject().deepCopy();
            json.addProperty("peft_type", "LORA");
            JsonArray targets = new JsonArray();
            targets.add("0");
            targets.add("1");
            json.add("target_modules", targets);
            pm.addAdapter(
                    a.getKey(),
                    AdapterMethods.parse(new ConfigJson(json, a.getKey()), new ArrayList<>()));
            JsonObject factors = ref.getAsJsonObject("factors").getAsJsonObject(a.getKey());
            for (Map.Entry<String, Adapter> layer : pm.adapters(a.getKey()).entrySet()) {
                JsonObject f = factors.getAsJsonObject(layer.getKey());
                layer.getValue()
                        .loadStateDict(
                                Map.of(
                                        "lora_A.weight", array(f.getAsJsonArray("lora_A.weight")),
                                        "lora_B.weight", array(f.getAsJsonArray("lora_B.weight"))),
                                "reference");
            }
        }
        return pm;
    }

    private NDArray array(JsonArray rows) {
        return JsonArrays.array(manager, rows);
    }

    private static Options options(JsonObject o, String combination) {
        Options out = Options.defaults().withCombination(Combination.of(combination));
        if (o.has("density")) {
            out = out.withDensity(o.get("density").getAsDouble());
        }
        if (o.has("majority_sign_method")) {
            out = out.withMajoritySignMethod(o.get("majority_sign_method").getAsString());
        }
        if (o.has("svd_rank")) {
            out = out.withSvdRank(o.get("svd_rank").getAsInt());
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void combinationGivesPeftsChange(int index) throws IOException {
        JsonObject ref = reference();
        JsonObject c = ref.getAsJsonArray("cases").get(index).getAsJsonObject();
        PeftModel pm = model(ref);
        List<String> names = new ArrayList<>();
        c.getAsJsonArray("adapters").forEach(e -> names.add(e.getAsString()));
        List<Double> weights = new ArrayList<>();
        c.getAsJsonArray("weights").forEach(e -> weights.add(e.getAsDouble()));
        LoraConfig config =
                WeightedAdapters.add(
                        pm,
                        names,
                        weights,
                        "mixed",
                        options(c.getAsJsonObject("options"), c.get("combination").getAsString()));
        assertFalse(config.useRslora());
        for (Map.Entry<String, Adapter> layer : pm.adapters("mixed").entrySet()) {
            assertEquals(1.0, config.scalingFor(layer.getKey()), 0);
            assertAlmostEquals(
                    layer.getValue().deltaWeight(manager),
                    array(c.getAsJsonObject("delta").getAsJsonArray(layer.getKey())),
                    1e-5,
                    1e-6);
        }
        assertEquals(List.of("a1"), pm.activeAdapters(), "the active adapter is unchanged");
    }

    /**
     * {@code cat} is exact on Conv2d and embedding layers too, {@code svd} at full rank gives a
     * DoRA adapter's own change back, and one adapter at weight 1 gives itself back.
     */
    @Test
    void exactCombinationsOnEveryLayerKind() {
        for (String modelName : List.of("convnet", "embedder")) {
            var tiny =
                    modelName.equals("convnet")
                            ? TinyModels.convnet(manager, 3)
                            : TinyModels.embedder(manager, 3);
            PeftModel pm = PeftModel.of(tiny.block());
            String[] targets = tiny.targets().toArray(String[]::new);
            pm.addAdapter(
                    "a",
                    LoraConfig.builder().optRank(2).optAlpha(4).setTargetModules(targets).build());
            pm.addAdapter(
                    "b",
                    LoraConfig.builder()
                            .optRank(3)
                            .optAlpha(2)
                            .optUseRslora(true)
                            .setTargetModules(targets)
                            .build());
            AdapterChecks.randomizeAdapters(pm, "a", 1);
            AdapterChecks.randomizeAdapters(pm, "b", 2);
            WeightedAdapters.add(
                    pm,
                    List.of("a", "b"),
                    List.of(0.6, -1.5),
                    "cat",
                    Options.defaults().withCombination(Combination.CAT));
            WeightedAdapters.add(pm, List.of("b"), List.of(1.0), "self", Options.defaults());
            for (String path : pm.adapters("a").keySet()) {
                NDArray a = pm.adapters("a").get(path).deltaWeight(manager);
                NDArray b = pm.adapters("b").get(path).deltaWeight(manager);
                assertAlmostEquals(
                        pm.adapters("cat").get(path).deltaWeight(manager),
                        a.mul(0.6).sub(b.mul(1.5)),
                        1e-5,
                        1e-6);
                assertAlmostEquals(
                        pm.adapters("self").get(path).deltaWeight(manager), b, 1e-5, 1e-7);
            }
        }

        var mlp = TinyModels.mlp(manager, 4);
        PeftModel pm = PeftModel.of(mlp.block());
        pm.addAdapter(
                "dora",
                LoraConfig.builder()
                        .optRank(2)
                        .optUseDora(true)
                        .setTargetModules("0", "2")
                        .build());
        pm.addAdapter("plain", LoraConfig.builder().optRank(2).setTargetModules("0", "2").build());
        AdapterChecks.randomizeAdapters(pm, "dora", 5);
        AdapterChecks.randomizeAdapters(pm, "plain", 6);
        WeightedAdapters.add(
                pm,
                List.of("dora", "plain"),
                List.of(1.0, 0.0),
                "full",
                Options.defaults().withSvdRank(8));
        // layer "0" is [16, 8]: rank 8 is its full rank, so the SVD keeps DoRA's whole change
        assertAlmostEquals(
                pm.adapters("full").get("0").deltaWeight(manager),
                pm.adapters("dora").get("0").deltaWeight(manager),
                1e-4,
                1e-6);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                WeightedAdapters.add(
                                        pm,
                                        List.of("dora", "plain"),
                                        List.of(1.0, 1.0),
                                        "lin",
                                        Options.defaults().withCombination(Combination.LINEAR)));
        assertTrue(
                e.getMessage().contains("'dora'") && e.getMessage().contains("svd"),
                e.getMessage());
    }

    /**
     * DARE: reproducible for a seed, another seed draws other masks, and every entry of the new A
     * factor is 0 or {@code sqrt(w s) A / density} (the second adapter at weight 0), with about a
     * density's share kept.
     */
    @Test
    void dareMasksAreSeededBernoulliWithRescale() {
        SequentialBlock root = new SequentialBlock();
        root.add(Linear.builder().setUnits(64).optBias(false).build());
        root.initialize(manager, DataType.FLOAT32, new Shape(1, 64));
        PeftModel pm = PeftModel.of(root);
        for (String n : List.of("a", "b")) {
            pm.addAdapter(
                    n, LoraConfig.builder().optRank(8).optAlpha(16).setTargetModules("0").build());
            AdapterChecks.randomizeAdapters(pm, n, n.hashCode());
        }
        Options dare = Options.defaults().withCombination(Combination.DARE_LINEAR).withDensity(0.3);
        WeightedAdapters.add(pm, List.of("a", "b"), List.of(0.5, 0.0), "d1", dare.withSeed(7));
        WeightedAdapters.add(pm, List.of("a", "b"), List.of(0.5, 0.0), "d2", dare.withSeed(7));
        WeightedAdapters.add(pm, List.of("a", "b"), List.of(0.5, 0.0), "d3", dare.withSeed(8));
        float[] a1 = factorA(pm, "d1");
        assertArrayEquals(a1, factorA(pm, "d2"));
        assertFalse(java.util.Arrays.equals(a1, factorA(pm, "d3")));
        float[] source = factorA(pm, "a");
        double scale = Math.sqrt(0.5 * 2) / 0.3;
        int kept = 0;
        for (int i = 0; i < a1.length; i++) {
            if (a1[i] != 0) {
                kept++;
                assertEquals(source[i] * scale, a1[i], 1e-5);
            }
        }
        double share = kept / (double) a1.length;
        assertTrue(share > 0.22 && share < 0.38, "kept share " + share);
    }

    private static float[] factorA(PeftModel pm, String name) {
        return pm.adapters(name).get("0").stateDict().get("lora_A.weight").toFloatArray();
    }

    /** Inputs PEFT's code takes but cannot combine correctly are refused by name. */
    @Test
    void refusals() throws IOException {
        PeftModel pm = model(reference());
        Options linear = Options.defaults().withCombination(Combination.LINEAR);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                WeightedAdapters.add(
                                        pm, List.of("a1", "a3"), List.of(1.0, 1.0), "x", linear));
        assertTrue(
                e.getMessage().contains("layer '1'") && e.getMessage().contains("'a3' has 3"),
                e.getMessage());
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                WeightedAdapters.add(
                                        pm,
                                        List.of("a1", "a2"),
                                        List.of(1.0, 1.0),
                                        "x",
                                        Options.defaults().withCombination(Combination.TIES)));
        assertTrue(e.getMessage().contains("density"), e.getMessage());
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> WeightedAdapters.add(pm, List.of("a1"), List.of(1.0), "a2", linear));
        assertTrue(e.getMessage().contains("'a2' already exists"), e.getMessage());
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                WeightedAdapters.add(
                                        pm,
                                        List.of("a1", "a2"),
                                        List.of(1.0, 1.0),
                                        "x",
                                        Options.defaults().withSvdRank(7)));
        assertTrue(e.getMessage().contains("svd_rank 7"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Combination.of("slerp"));
        assertEquals(3, pm.configs().size(), "nothing was added by a refused call");
    }

    /** The combined adapter computes its change in the forward pass too. */
    @Test
    void forwardUsesTheCombination() throws IOException {
        PeftModel pm = model(reference());
        WeightedAdapters.add(
                pm,
                List.of("a1", "a2", "a3"),
                List.of(0.7, -0.4, 0.5),
                "mixed",
                Options.defaults().withCombination(Combination.CAT));
        pm.setActiveAdapters("mixed");
        NDArray x = TinyModels.input(manager, new Shape(3, 6), 9);
        NDArray y =
                pm.root()
                        .forward(new ParameterStore(manager, false), new NDList(x), false)
                        .singletonOrThrow();
        pm.merge();
        NDArray merged =
                pm.root()
                        .forward(new ParameterStore(manager, false), new NDList(x), false)
                        .singletonOrThrow();
        assertAlmostEquals(y, merged, 1e-5, 1e-6);
    }

    /**
     * A combination leaves nothing on the model's manager but the new adapter's parameters:
     * deleting the new adapter gives the array count back, for the factor-space, cat and svd paths.
     */
    @Test
    void aCombinationLeavesNoTemporariesOnTheModel() throws IOException {
        PeftModel pm = model(reference());
        for (Combination c : List.of(Combination.SVD, Combination.CAT, Combination.TIES)) {
            int before = manager.getManagedArrays().size();
            WeightedAdapters.add(
                    pm,
                    List.of("a1", "a2"),
                    List.of(0.7, -0.4),
                    "mixed",
                    Options.defaults().withCombination(c).withDensity(0.5));
            pm.deleteAdapter("mixed");
            assertEquals(before, manager.getManagedArrays().size(), c.peftName());
        }
    }
}
