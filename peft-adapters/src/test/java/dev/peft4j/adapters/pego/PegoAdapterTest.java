package dev.peft4j.adapters.pego;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.AdapterTestSupport;
import dev.peft4j.adapters.DenseRef;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The PEGO layer against {@code W + sum_i B_i A_i} written out densely, its init, keys and config. */
class PegoAdapterTest {

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static PegoConfig.Builder config() {
        return PegoConfig.builder().setTargetModules("0");
    }

    private PeftModel onLinear(int in, int out, PegoConfig config) {
        return PeftModel.create(AdapterTestSupport.singleLinear(manager, in, out), config);
    }

    private static PegoAdapter adapter(PeftModel pm) {
        return (PegoAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
    }

    @Test
    void forwardAndDeltaWeightEqualTheUnscaledSumOfGroupProducts() {
        Block model = AdapterTestSupport.singleLinear(manager, 7, 5);
        Linear linear = (Linear) model.getChildren().valueAt(0);
        double[][] w = DenseRef.matrix(linear.getParameters().get("weight").getArray());
        double[] bias = NdAssert.toDoubles(linear.getParameters().get("bias").getArray());
        PeftModel pm = PeftModel.create(model, config().optRank(2).optNumLoras(3).build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 31);
        PegoAdapter a = adapter(pm);
        double[][] dw = new double[5][7];
        for (int i = 0; i < 3; i++) {
            dw =
                    DenseRef.plus(
                            dw,
                            DenseRef.matMul(
                                    DenseRef.matrix(a.loraB(i).getArray()),
                                    DenseRef.matrix(a.loraA(i).getArray())));
        }
        assertAlmostEquals(
                NdAssert.toDoubles(a.deltaWeight(manager)), DenseRef.flat(dw), 1e-5, 1e-7);

        NDArray x = TinyModels.input(manager, new Shape(3, 7), 8);
        NDArray delta = a.delta(new ParameterStore(manager, false), x, false);
        assertAlmostEquals(
                NdAssert.toDoubles(delta),
                DenseRef.flat(DenseRef.linear(DenseRef.matrix(x), dw, null)),
                1e-5,
                1e-7);
        double[][] y = DenseRef.linear(DenseRef.matrix(x), DenseRef.plus(w, dw), bias);
        assertAlmostEquals(
                NdAssert.toDoubles(TinyModels.forward(pm.root(), x)), DenseRef.flat(y), 1e-5, 1e-6);
    }

    @Test
    void initIsKaimingUniformAWithZeroBAndSeeded() {
        PeftModel pm = onLinear(64, 48, config().optNumLoras(3).build());
        PegoAdapter a = adapter(pm);
        double bound = 1 / Math.sqrt(64);
        List<float[]> as = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            float[] ai = a.loraA(i).getArray().toFloatArray();
            double max = 0;
            for (float v : ai) {
                max = Math.max(max, Math.abs(v));
            }
            assertTrue(
                    max <= bound && max > 0.95 * bound,
                    "A_" + i + " ~ U(-1/sqrt(in), 1/sqrt(in)), max " + max);
            assertEquals(0.0, a.loraB(i).getArray().abs().sum().getFloat(), "B_" + i + " = 0");
            as.add(ai);
        }
        assertFalse(Arrays.equals(as.get(0), as.get(1)), "each module draws its own A");
        float[] again =
                adapter(onLinear(64, 48, config().optNumLoras(3).build()))
                        .loraA(2)
                        .getArray()
                        .toFloatArray();
        assertArrayEquals(as.get(2), again, "same seed, same init");
    }

    @Test
    void checkpointKeysNameEachModule() {
        PegoAdapter a = adapter(onLinear(7, 5, config().optRank(2).optNumLoras(2).build()));
        Map<String, NDArray> state = a.stateDict();
        assertEquals(
                List.of("pego_A.0.weight", "pego_A.1.weight", "pego_B.0.weight", "pego_B.1.weight"),
                new ArrayList<>(state.keySet()));
        assertEquals(new Shape(2, 7), state.get("pego_A.1.weight").getShape());
        assertEquals(new Shape(5, 2), state.get("pego_B.0.weight").getShape());
    }

    @Test
    void checkpointHoldsEveryModuleOfEveryLayer(@TempDir Path dir) throws IOException {
        TinyModel mlp = TinyModels.mlp(manager, 8);
        PeftModel pm =
                PeftModel.create(
                        mlp.block(),
                        config().optRank(3).optNumLoras(2).setTargetModules("0", "2").build());
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 32);
        NDArray x = TinyModels.input(manager, mlp.inputShape(), 12);
        Map<String, Shape> saved =
                AdapterTestSupport.saveAndReload(pm, TinyModels.mlp(manager, 8).block(), x, dir);
        Map<String, Shape> expected = new TreeMap<>();
        // layer 0: Linear 8 -> 16, layer 2: 16 -> 12
        for (int i = 0; i < 2; i++) {
            expected.put("base_model.model.0.pego_A." + i + ".weight", new Shape(3, 8));
            expected.put("base_model.model.0.pego_B." + i + ".weight", new Shape(16, 3));
            expected.put("base_model.model.2.pego_A." + i + ".weight", new Shape(3, 16));
            expected.put("base_model.model.2.pego_B." + i + ".weight", new Shape(12, 3));
        }
        assertEquals(expected, saved);
    }

    @Test
    void trainingStepsLeaveTheModelManagerFlat() {
        PeftModel pm = onLinear(7, 5, config().build());
        NDArray x = TinyModels.input(manager, new Shape(3, 7), 2);
        AdapterTestSupport.assertStepLeavesManagerFlat(pm.root(), x, manager);
        int before = manager.getManagedArrays().size();
        try (NDManager scope = manager.newSubManager()) {
            adapter(pm).deltaWeight(scope);
            PegoRegularizer.of(pm, PeftModel.DEFAULT).loss(scope);
        }
        assertEquals(
                before,
                manager.getManagedArrays().size(),
                "temporaries stay in the caller's scope");
    }

    @Test
    void configRoundTripsThroughJsonAndTheRegistry() {
        for (PegoConfig c :
                new PegoConfig[] {
                    config().build(),
                    config().optRank(3).optNumLoras(4).optRegLambda(0.5).optInitSeed(9).build()
                }) {
            JsonObject json = c.toJson();
            assertEquals("PEGO", json.get("peft_type").getAsString());
            AdapterConfig back =
                    AdapterMethods.forType("PEGO", "test").fromJson(new ConfigJson(json, "a.json"));
            assertEquals(json, back.toJson());
        }
        PegoConfig d = config().build();
        assertEquals(4, d.r());
        assertEquals(2, d.numLoras());
        assertEquals(1e-3, d.regLambda());
    }

    @Test
    void invalidOptionsAreRejectedWithTheirName() {
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> config().optRank(0).build())
                        .getMessage()
                        .contains("rank r"));
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> config().optNumLoras(0).build())
                        .getMessage()
                        .contains("num_loras"));
        assertTrue(
                assertThrows(
                                IllegalArgumentException.class,
                                () -> config().optRegLambda(-1).build())
                        .getMessage()
                        .contains("reg_lambda"));
        JsonObject json = config().build().toJson();
        json.addProperty("num_loras", "many");
        String msg =
                assertThrows(
                                IllegalArgumentException.class,
                                () ->
                                        PegoConfig.fromJson(
                                                new ConfigJson(json, "dir/adapter_config.json")))
                        .getMessage();
        assertTrue(msg.contains("dir/adapter_config.json") && msg.contains("num_loras"), msg);
    }
}
