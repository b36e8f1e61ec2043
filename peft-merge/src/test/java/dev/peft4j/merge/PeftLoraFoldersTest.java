package dev.peft4j.merge;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.tree.LookupTable;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PiSSA and OLoRA folders as PEFT writes them ({@code peft_lora_folders.py}, from PEFT's code):
 * loaded onto the original model, the decomposition is redone on it as PEFT does, so the forward,
 * the residual base weight, {@code mergeAndUnload} and the folder as a merge candidate all give
 * PEFT's numbers (1e-5). Before, such a folder was loaded onto the original base without the
 * decomposition, 83% (PiSSA) and 190% (OLoRA) of the largest weight away.
 */
class PeftLoraFoldersTest extends ManagedTest {

    private static final double RTOL = 1e-5;

    static Path fixture() {
        try {
            return Paths.get(
                            PeftLoraFoldersTest.class
                                    .getResource("peft-lora/expected.json")
                                    .toURI())
                    .getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonObject expected() {
        return JsonArrays.resource(PeftLoraFoldersTest.class, "peft-lora/expected.json");
    }

    private NDArray matrix(JsonArray rows) {
        return JsonArrays.array(manager, rows);
    }

    /** The original model: one bias-free Linear named "0" holding the fixture's weight. */
    private Block original(NDArray weight) {
        return original(weight, null);
    }

    /** One Linear named "0" holding the fixture's weight and, when not null, bias. */
    private Block original(NDArray weight, NDArray bias) {
        SequentialBlock root = new SequentialBlock();
        root.add(Linear.builder().setUnits(weight.getShape().get(0)).optBias(bias != null).build());
        root.initialize(manager, DataType.FLOAT32, new Shape(1, weight.getShape().get(1)));
        var params = root.getChildren().get(0).getValue().getParameters();
        params.get("weight").getArray().set(new NDIndex("..."), weight);
        if (bias != null) {
            params.get("bias").getArray().set(new NDIndex("..."), bias);
        }
        return root;
    }

    private NDArray vector(JsonArray values) {
        return JsonArrays.array(manager, values);
    }

    /**
     * A {@code lora_bias} folder: the forward adds {@code s (B A x + b)}, merging adds {@code s b}
     * to the base bias, and as a merge candidate the bias tensor's change is {@code s b}; against
     * a base without bias the candidate is refused, as PEFT refuses to merge it.
     */
    @Test
    void loraBiasFolderGivesPeftsNumbers() throws IOException {
        JsonObject ref = expected();
        JsonObject want = ref.getAsJsonObject("lora_bias");
        NDArray w = matrix(ref.getAsJsonArray("weight"));
        NDArray bias = vector(ref.getAsJsonArray("bias"));
        NDArray x = matrix(ref.getAsJsonArray("x"));
        Path folder = fixture().resolve("lora_bias");
        PeftModel pm = PeftModel.load(original(w, bias), folder);
        assertAlmostEquals(
                forward(pm.root(), x), matrix(want.getAsJsonArray("output")), RTOL, 1e-6);
        var merged = pm.mergeAndUnload().getChildren().get(0).getValue().getParameters();
        assertAlmostEquals(
                merged.get("weight").getArray(), matrix(want.getAsJsonArray("merged")), RTOL, 1e-6);
        assertAlmostEquals(
                merged.get("bias").getArray(),
                vector(want.getAsJsonArray("merged_bias")),
                RTOL,
                1e-6);
        try (SafetensorsReader base =
                        SafetensorsReader.open(
                                fixture().resolve("base/model-with-bias.safetensors"));
                Candidate c = Candidate.open(folder, "c", base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            assertAlmostEquals(
                    c.weights("0.weight", base.load("0.weight", scope), scope),
                    matrix(want.getAsJsonArray("merged")),
                    RTOL,
                    1e-6);
            assertAlmostEquals(
                    c.weights("0.bias", base.load("0.bias", scope), scope),
                    vector(want.getAsJsonArray("merged_bias")),
                    RTOL,
                    1e-6);
        }
        try (SafetensorsReader noBias =
                SafetensorsReader.open(fixture().resolve("base/model.safetensors"))) {
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> Candidate.open(folder, "c", noBias));
            assertTrue(e.getMessage().contains("lora_bias"), e.getMessage());
        }
    }

    private NDArray forward(Block root, NDArray x) {
        return root.forward(new ParameterStore(manager, false), new NDList(x), false)
                .singletonOrThrow();
    }

    @ParameterizedTest
    @ValueSource(strings = {"pissa", "olora"})
    void peftWrittenFolderGivesPeftsNumbers(String init, @TempDir Path tmp) throws IOException {
        JsonObject ref = expected();
        JsonObject want = ref.getAsJsonObject(init);
        NDArray w = matrix(ref.getAsJsonArray("weight"));
        NDArray x = matrix(ref.getAsJsonArray("x"));
        Path folder = fixture().resolve(init);

        PeftModel pm = PeftModel.load(original(w), folder);
        assertAlmostEquals(
                forward(pm.root(), x), matrix(want.getAsJsonArray("output")), RTOL, 1e-6);
        assertAlmostEquals(
                pm.baseLayer("0").weight().getArray(),
                matrix(want.getAsJsonArray("residual")),
                RTOL,
                1e-6);

        // saved again, the folder keeps PEFT's meaning and loads onto the original again
        Path again = tmp.resolve("again");
        pm.save(again);
        assertEquals(
                init,
                AdapterCheckpoint.readConfig(again)
                        .toJson()
                        .get("init_lora_weights")
                        .getAsString());
        PeftModel reloaded = PeftModel.load(original(w), again);
        assertAlmostEquals(
                forward(reloaded.root(), x), matrix(want.getAsJsonArray("output")), RTOL, 1e-6);

        Block merged = pm.mergeAndUnload();
        NDArray mergedWeight =
                merged.getChildren().get(0).getValue().getParameters().get("weight").getArray();
        assertAlmostEquals(mergedWeight, matrix(want.getAsJsonArray("merged")), RTOL, 1e-6);

        try (SafetensorsReader base =
                        SafetensorsReader.open(fixture().resolve("base/model.safetensors"));
                Candidate c = Candidate.open(folder, "c", base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            NDArray theta0 = base.load("0.weight", scope);
            assertAlmostEquals(
                    c.weights("0.weight", theta0, scope),
                    matrix(want.getAsJsonArray("merged")),
                    RTOL,
                    1e-6);
            // the base the merge reads is not changed by the decomposition
            assertAlmostEquals(theta0, w, 0, 0);
        }
    }

    /**
     * A DoRA folder ({@code use_dora}): the forward, {@code mergeAndUnload} (the weight rescaled
     * row by row, the bias unchanged), unmerging back, the folder as a merge candidate, the
     * gradients with the row norm detached as PEFT does, and the magnitude of a fresh adapter.
     */
    @Test
    void doraFolderGivesPeftsNumbersAndGradients() throws IOException {
        JsonObject ref = expected();
        JsonObject want = ref.getAsJsonObject("dora");
        NDArray w = matrix(ref.getAsJsonArray("weight"));
        NDArray bias = vector(ref.getAsJsonArray("bias"));
        NDArray x = matrix(ref.getAsJsonArray("x"));
        Path folder = fixture().resolve("dora");
        PeftModel pm = PeftModel.load(original(w, bias), folder);
        assertAlmostEquals(
                forward(pm.root(), x), matrix(want.getAsJsonArray("output")), RTOL, 1e-6);

        Adapter layer = pm.adapters(PeftModel.DEFAULT).get("0");
        try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
            NDArray y =
                    pm.root()
                            .forward(new ParameterStore(manager, false), new NDList(x), true)
                            .singletonOrThrow();
            gc.backward(y.mul(matrix(want.getAsJsonArray("upstream"))).sum());
        }
        Map<String, NDArray> params = layer.stateDict();
        assertAlmostEquals(
                params.get("lora_magnitude_vector").getGradient(),
                vector(want.getAsJsonArray("grad_magnitude")),
                1e-4,
                1e-6);
        assertAlmostEquals(
                params.get("lora_B.weight").getGradient(),
                matrix(want.getAsJsonArray("grad_lora_B")),
                1e-4,
                1e-6);
        assertAlmostEquals(
                params.get("lora_A.weight").getGradient(),
                matrix(want.getAsJsonArray("grad_lora_A")),
                1e-4,
                1e-6);

        pm.merge();
        var base = pm.baseLayer("0");
        assertAlmostEquals(
                base.weight().getArray(), matrix(want.getAsJsonArray("merged")), RTOL, 1e-6);
        assertAlmostEquals(base.bias().getArray(), bias, 0, 0);
        pm.unmerge();
        assertAlmostEquals(base.weight().getArray(), w, 1e-5, 1e-6);

        try (SafetensorsReader reader =
                        SafetensorsReader.open(
                                fixture().resolve("base/model-with-bias.safetensors"));
                Candidate c = Candidate.open(folder, "c", reader);
                NDManager scope = manager.newSubManager()) {
            c.validate(reader);
            assertAlmostEquals(
                    c.weights("0.weight", reader.load("0.weight", scope), scope),
                    matrix(want.getAsJsonArray("merged")),
                    RTOL,
                    1e-6);
            assertAlmostEquals(
                    c.weights("0.bias", reader.load("0.bias", scope), scope), bias, 0, 0);
        }

        freshDora(original(w, bias), want);
    }

    /**
     * LoRA on an embedding ({@code lora_embedding_A [r, num]}, {@code lora_embedding_B [dim, r]}):
     * the lookup, {@code mergeAndUnload}, a save/load round trip and the folder as a merge
     * candidate (kept factored) give PEFT's numbers.
     */
    @Test
    void embeddingFolderGivesPeftsNumbers(@TempDir Path tmp) throws IOException {
        JsonObject want = expected().getAsJsonObject("embedding");
        PeftModel pm = loadEmbeddingFolder("embedding", want, tmp);
        assertAlmostEquals(
                pm.mergeAndUnload()
                        .getChildren()
                        .get(0)
                        .getValue()
                        .getParameters()
                        .get("weight")
                        .getArray(),
                matrix(want.getAsJsonArray("merged")),
                RTOL,
                1e-6);
    }

    /**
     * DoRA on a lookup table ({@code lora_magnitude_vector [dim]}): the output, merge and unmerge,
     * the candidate (dense: the change depends on the table), and a fresh magnitude.
     */
    @Test
    void embeddingDoraFolderGivesPeftsNumbers(@TempDir Path tmp) throws IOException {
        JsonObject want = expected().getAsJsonObject("embedding_dora");
        NDArray table = matrix(expected().getAsJsonObject("embedding").getAsJsonArray("table"));
        NDArray ids = embeddingIds();
        PeftModel pm = loadEmbeddingFolder("embedding_dora", want, tmp);
        NDArray y = forward(pm.root(), ids);
        pm.merge();
        assertAlmostEquals(
                pm.baseLayer("0").weight().getArray(),
                matrix(want.getAsJsonArray("merged")),
                RTOL,
                1e-6);
        assertAlmostEquals(forward(pm.root(), ids), y, RTOL, 1e-6);
        pm.unmerge();
        assertAlmostEquals(pm.baseLayer("0").weight().getArray(), table, 1e-5, 1e-6);

        PeftModel fresh = freshDora(embedder(table), want);
        assertAlmostEquals(forward(fresh.root(), ids), forward(embedder(table), ids), 1e-5, 1e-6);
    }

    /** A fresh DoRA adapter (r 2) on module "0": its magnitude is {@code want}'s initial one. */
    private PeftModel freshDora(Block model, JsonObject want) {
        PeftModel fresh =
                PeftModel.create(
                        model,
                        LoraConfig.builder()
                                .optRank(2)
                                .optUseDora(true)
                                .setTargetModules("0")
                                .build());
        assertAlmostEquals(
                fresh.adapters(PeftModel.DEFAULT).get("0").stateDict().get("lora_magnitude_vector"),
                vector(want.getAsJsonArray("initial_magnitude")),
                1e-6,
                1e-7);
        return fresh;
    }

    private NDArray embeddingIds() {
        return JsonArrays.array(
                        manager, expected().getAsJsonObject("embedding").getAsJsonArray("ids"))
                .toType(DataType.INT64, false);
    }

    /**
     * Loads an embedding folder onto the fixture's table and checks its output, a save/load round
     * trip and the folder as a merge candidate against {@code want}'s output and merged table.
     */
    private PeftModel loadEmbeddingFolder(String name, JsonObject want, Path tmp)
            throws IOException {
        NDArray table = matrix(expected().getAsJsonObject("embedding").getAsJsonArray("table"));
        NDArray ids = embeddingIds();
        Path folder = fixture().resolve(name);
        PeftModel pm = PeftModel.load(embedder(table), folder);
        NDArray y = forward(pm.root(), ids);
        assertAlmostEquals(y, JsonArrays.array(manager, want.getAsJsonArray("output")), RTOL, 1e-6);
        pm.save(tmp.resolve("again"));
        assertAlmostEquals(
                forward(PeftModel.load(embedder(table), tmp.resolve("again")).root(), ids),
                y,
                0,
                0);
        try (SafetensorsReader base =
                        SafetensorsReader.open(
                                fixture().resolve("base/model-embedding.safetensors"));
                Candidate c = Candidate.open(folder, "c", base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            NDArray theta0 = base.load("0.weight", scope);
            if (!name.endsWith("dora")) {
                assertInstanceOf(Delta.LowRank.class, c.taskVector("0.weight", theta0, scope));
            }
            assertAlmostEquals(
                    c.weights("0.weight", theta0, scope),
                    matrix(want.getAsJsonArray("merged")),
                    RTOL,
                    1e-6);
        }
        return pm;
    }

    /** A model whose module "0" is a lookup table holding {@code table}. */
    private Block embedder(NDArray table) {
        SequentialBlock root = new SequentialBlock();
        root.add(new LookupTable(table.getShape().get(0), table.getShape().get(1)));
        root.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
        root.getChildren()
                .get(0)
                .getValue()
                .getParameters()
                .get("weight")
                .getArray()
                .set(new NDIndex("..."), table);
        return root;
    }

    /** The fixture's folders hold every key PEFT's LoraConfig writes that can matter, all accepted. */
    @ParameterizedTest
    @ValueSource(strings = {"pissa", "olora"})
    void fixtureIsAPeftFolder(String init) throws IOException {
        try (Stream<Path> files = Files.list(fixture().resolve(init))) {
            assertEquals(2, files.count());
        }
        JsonObject config =
                JsonParser.parseString(
                                Files.readString(
                                        fixture().resolve(init).resolve("adapter_config.json")))
                        .getAsJsonObject();
        assertTrue(config.has("lora_bias") && config.has("layers_to_transform"));
        assertEquals(
                init,
                AdapterCheckpoint.readConfig(fixture().resolve(init))
                        .toJson()
                        .get("init_lora_weights")
                        .getAsString());
    }
}
