package dev.peft4j.merge;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LoRA on Conv2d (with {@code lora_bias}) and DoRA on Conv2d, from folders as PEFT writes them
 * ({@code peft_lora_folders.py}, transcribed from PEFT's {@code lora.Conv2d} and {@code
 * _DoraConvNdLayer}): forward, merge, unmerge, a save/load round trip and the folder as a merge
 * candidate give PEFT's numbers (1e-5).
 */
class PeftConvFoldersTest extends ManagedTest {

    private static final double RTOL = 1e-5;
    private static final String[] CONVS = {"0", "1"};

    /** The fixture's model: conv "0" (3 to 4, kernel 3x2, stride (2, 1), padding (1, 0)), conv "1" (4 to 5, 1x1). */
    private Block convModel() throws IOException {
        SequentialBlock root = new SequentialBlock();
        root.add(
                Conv2d.builder()
                        .setKernelShape(new Shape(3, 2))
                        .setFilters(4)
                        .optStride(new Shape(2, 1))
                        .optPadding(new Shape(1, 0))
                        .build());
        root.add(Conv2d.builder().setKernelShape(new Shape(1, 1)).setFilters(5).build());
        root.initialize(manager, DataType.FLOAT32, new Shape(2, 3, 7, 5));
        try (SafetensorsReader base =
                SafetensorsReader.open(
                        PeftLoraFoldersTest.fixture().resolve("base/model-conv.safetensors"))) {
            for (int i = 0; i < CONVS.length; i++) {
                var params = root.getChildren().get(i).getValue().getParameters();
                for (String p : List.of("weight", "bias")) {
                    try (NDArray v = base.load(CONVS[i] + "." + p, manager)) {
                        params.get(p).getArray().set(new NDIndex("..."), v);
                    }
                }
            }
        }
        return root;
    }

    private NDArray array(JsonArray nested) {
        return JsonArrays.array(manager, nested);
    }

    private NDArray forward(Block root, NDArray x) {
        return root.forward(new ParameterStore(manager, false), new NDList(x), false)
                .singletonOrThrow();
    }

    private static Parameter param(Block root, int layer, String name) {
        return root.getChildren().get(layer).getValue().getParameters().get(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"conv", "conv_dora"})
    void convFolderGivesPeftsNumbers(String name, @TempDir Path tmp) throws IOException {
        JsonObject ref = PeftLoraFoldersTest.expected();
        JsonObject want = ref.getAsJsonObject(name);
        NDArray x = array(ref.getAsJsonArray("conv_x"));
        Path folder = PeftLoraFoldersTest.fixture().resolve(name);

        PeftModel pm = PeftModel.load(convModel(), folder);
        NDArray y = forward(pm.root(), x);
        assertAlmostEquals(y, array(want.getAsJsonArray("output")), RTOL, 1e-6);
        pm.save(tmp.resolve("again"));
        assertAlmostEquals(
                forward(PeftModel.load(convModel(), tmp.resolve("again")).root(), x), y, 0, 0);

        pm.merge();
        assertAlmostEquals(forward(pm.root(), x), y, RTOL, 1e-6);
        for (String conv : CONVS) {
            for (String p : List.of("weight", "bias")) {
                var base = pm.baseLayer(conv);
                assertAlmostEquals(
                        p.equals("weight") ? base.weight().getArray() : base.bias().getArray(),
                        array(want.getAsJsonArray(conv + "." + p)),
                        RTOL,
                        1e-6);
            }
        }
        pm.unmerge();
        assertAlmostEquals(forward(pm.root(), x), y, RTOL, 1e-6);

        try (SafetensorsReader base =
                        SafetensorsReader.open(
                                PeftLoraFoldersTest.fixture()
                                        .resolve("base/model-conv.safetensors"));
                Candidate c = Candidate.open(folder, "c", base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            for (String conv : CONVS) {
                for (String p : List.of(".weight", ".bias")) {
                    assertAlmostEquals(
                            c.weights(conv + p, base.load(conv + p, scope), scope),
                            array(want.getAsJsonArray(conv + p)),
                            RTOL,
                            1e-6);
                }
            }
        }
    }

    /** A fresh conv DoRA layer starts at {@code m = ||W||} per output channel, shaped {@code [1, out, 1, 1]}. */
    @Test
    void freshConvDoraKeepsTheOutputAndHasPeftsMagnitudeShape() throws IOException {
        Block model = convModel();
        NDArray x = array(PeftLoraFoldersTest.expected().getAsJsonArray("conv_x"));
        NDArray before = forward(model, x).duplicate();
        NDArray w = param(model, 0, "weight").getArray().duplicate();
        PeftModel pm =
                PeftModel.create(
                        model,
                        LoraConfig.builder()
                                .optRank(2)
                                .optUseDora(true)
                                .setTargetModules("0", "1")
                                .build());
        Map<String, NDArray> state = pm.adapters(PeftModel.DEFAULT).get("0").stateDict();
        assertEquals(new Shape(2, 3, 3, 2), state.get("lora_A.weight").getShape());
        assertEquals(new Shape(4, 2, 1, 1), state.get("lora_B.weight").getShape());
        NDArray norm = w.reshape(4, -1).square().sum(new int[] {1}).sqrt().reshape(1, 4, 1, 1);
        assertAlmostEquals(state.get("lora_magnitude_vector"), norm, 1e-6, 1e-7);
        assertAlmostEquals(forward(pm.root(), x), before, 1e-5, 1e-6);
    }

    /** PEFT's limits on Conv2d LoRA: grouped and dilated convolutions, other initializations. */
    @Test
    void convLayersPeftCannotAdaptAreRefusedByName() {
        SequentialBlock grouped = new SequentialBlock();
        grouped.add(
                Conv2d.builder()
                        .setKernelShape(new Shape(3, 3))
                        .setFilters(4)
                        .optGroups(2)
                        .build());
        grouped.initialize(manager, DataType.FLOAT32, new Shape(1, 4, 5, 5));
        LoraConfig lora = LoraConfig.builder().optRank(2).setTargetModules("0").build();
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> PeftModel.create(grouped, lora));
        assertTrue(
                e.getMessage().contains("'0'") && e.getMessage().contains("groups"),
                e.getMessage());

        SequentialBlock dilated = new SequentialBlock();
        dilated.add(
                Conv2d.builder()
                        .setKernelShape(new Shape(3, 3))
                        .setFilters(4)
                        .optDilation(new Shape(2, 2))
                        .build());
        dilated.initialize(manager, DataType.FLOAT32, new Shape(1, 4, 7, 7));
        e = assertThrows(IllegalArgumentException.class, () -> PeftModel.create(dilated, lora));
        assertTrue(e.getMessage().contains("dilation"), e.getMessage());

        LoraConfig pissa =
                LoraConfig.builder()
                        .optRank(2)
                        .optInitLoraWeights("pissa")
                        .setTargetModules("0", "1")
                        .build();
        e =
                assertThrows(
                        IllegalArgumentException.class, () -> PeftModel.create(convModel(), pissa));
        assertTrue(e.getMessage().contains("'pissa'"), e.getMessage());
    }
}
