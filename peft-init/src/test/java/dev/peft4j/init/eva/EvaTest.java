package dev.peft4j.init.eva;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.Batchifier;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import dev.peft4j.init.InitOptions;
import dev.peft4j.init.LoraInitialization;
import dev.peft4j.init.Planted;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** EVA end to end on inputs with planted principal subspaces. */
class EvaTest extends ManagedTest {

    private static final int R = 4;

    private PeftModel towers(EvaConfig eva) {
        LoraConfig config =
                eva.loraBuilder()
                        .optRank(R)
                        .optAlpha(8)
                        .setTargetModules("left", "mid", "right")
                        .build();
        return PeftModel.create(Towers.create(manager), config);
    }

    private static void prepare(PeftModel pm, int batches) {
        LoraInitialization.prepare(
                pm,
                PeftModel.DEFAULT,
                Towers.data(
                        pm.root().getParameters().get(0).getValue().getArray().getManager(),
                        batches),
                null,
                InitOptions.defaults().withProgress(false).withEvaMaxBatches(300));
    }

    /**
     * Budget 12 = 3 x 4. left and mid each have six components explaining over 10% of their
     * variance, right's 64 flat directions explain under 2% each: ranks go 6, 6, 0. The components
     * span the planted subspaces: the offset (centring) and the padded garbage (masking) are
     * ignored.
     */
    @Test
    void ranksMoveToTheLayersWithMoreExplainedVarianceAndComponentsSpanThePlantedSubspaces() {
        PeftModel pm = towers(EvaConfig.defaults());
        NDArray x = Towers.batch(manager, 99).getData().head();
        NDArray before = TinyModels.forward(pm.root(), x);
        prepare(pm, 10);
        Map<String, ?> layers = pm.adapters(PeftModel.DEFAULT);
        assertEquals(
                List.of("left", "mid"),
                List.copyOf(layers.keySet()),
                "rank 0 drops right's adapter");
        LoraAdapter left = (LoraAdapter) layers.get("left");
        assertEquals(6, left.rank());
        assertEquals(8.0 * 6 / R, left.alpha(), 1e-12);
        assertEquals(8.0 / R, left.scaling(), 1e-12);
        JsonObject json = pm.config(PeftModel.DEFAULT).toJson();
        assertEquals("{\"left\":6,\"mid\":6}", json.get("rank_pattern").toString());
        assertEquals("{\"left\":12,\"mid\":12}", json.get("alpha_pattern").toString());
        assertEquals("[\"left\",\"mid\"]", json.get("target_modules").toString());
        assertAlmostEquals(TinyModels.forward(pm.root(), x), before, 0, 0);
        Map<String, double[][]> bases = Map.of("left", Towers.LEFT_BASIS, "mid", Towers.MID_BASIS);
        bases.forEach(
                (path, basis) -> {
                    LoraAdapter a = (LoraAdapter) layers.get(path);
                    NDArray loraA = a.loraA().getArray();
                    assertAlmostEquals(
                            loraA.matMul(loraA.transpose()),
                            manager.eye(Towers.PLANTED),
                            1e-4,
                            1e-4);
                    NDArray p = Planted.create(manager, basis);
                    NDArray outside = loraA.sub(loraA.matMul(p).matMul(p.transpose()));
                    assertTrue(
                            outside.norm().getFloat() < 0.05,
                            path + ": off the planted subspace by " + outside.norm().getFloat());
                    assertEquals(0f, a.loraB().getArray().abs().sum().getFloat());
                });
    }

    /** Without the attention mask the padded value dominates the PCA: the mask is what keeps it out. */
    @Test
    void withoutTheMaskThePaddingTakesTheFirstComponent() {
        PeftModel pm =
                towers(
                        new EvaConfig(
                                2, 0.9, true, -100, false,
                                true)); // tau 0.9: the padding settles fast
        LoraInitialization.prepare(
                pm,
                PeftModel.DEFAULT,
                Towers.data(manager, 10),
                null,
                new InitOptions(1, 300, TokenMask.all(), false));
        NDArray first =
                ((LoraAdapter) pm.adapters(PeftModel.DEFAULT).get("left"))
                        .loraA()
                        .getArray()
                        .get(0);
        NDArray ones = manager.ones(new Shape(Towers.SMALL)).div(Math.sqrt(Towers.SMALL));
        assertTrue(
                first.dot(ones).abs().getFloat() > 0.9,
                "the padding direction (1, ..., 1) comes first");
    }

    /** q, k and v read the same input: one PCA, so their A share rows; fc1 reads another input. */
    @Test
    void layersWithTheSameInputShareOnePca() {
        TinyModel model = TinyModels.transformer(manager, 3);
        LoraConfig config =
                EvaConfig.defaults()
                        .loraBuilder()
                        .optRank(2)
                        .setTargetModules(
                                TargetModules.names(List.of("query", "key", "value", "fc1")))
                        .build();
        PeftModel pm = PeftModel.create(model.block(), config);
        Iterable<Batch> data =
                () ->
                        IntStream.range(0, 6)
                                .mapToObj(
                                        i -> {
                                            var m = manager.newSubManager();
                                            NDArray x =
                                                    TinyModels.input(
                                                            m, new Shape(16, 4, 10), 50 + i);
                                            return new Batch(
                                                    m,
                                                    new NDList(x),
                                                    new NDList(),
                                                    16,
                                                    Batchifier.STACK,
                                                    Batchifier.STACK,
                                                    i,
                                                    0);
                                        })
                                .iterator();
        Map<String, Integer> ranks =
                Eva.initialize(pm, PeftModel.DEFAULT, data, TokenMask.standard(), 40, false);
        for (String layer : List.of("layers.0", "layers.1")) {
            NDArray q =
                    ((LoraAdapter) pm.adapters(PeftModel.DEFAULT).get(layer + ".query"))
                            .loraA()
                            .getArray();
            for (String other : List.of(".key", ".value")) {
                LoraAdapter a = (LoraAdapter) pm.adapters(PeftModel.DEFAULT).get(layer + other);
                int common = Math.min(a.rank(), ranks.get(layer + ".query"));
                assertAlmostEquals(
                        a.loraA().getArray().get(":" + common), q.get(":" + common), 0, 0);
            }
        }
        assertEquals(16, ranks.values().stream().mapToInt(Integer::intValue).sum());
    }

    @Test
    void theRedistributedAdapterSavesAndLoadsWithItsEvaConfig(@TempDir Path dir)
            throws IOException {
        EvaConfig eva = new EvaConfig(1.5, 0.98, true, -100, false, true);
        PeftModel pm = towers(eva);
        prepare(pm, 10);
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 4);
        NDArray x = Towers.batch(manager, 98).getData().head();
        NDArray expected = TinyModels.forward(pm.root(), x);
        pm.save(dir);
        PeftModel loaded = PeftModel.load(Towers.create(manager), dir);
        assertEquals(
                pm.config(PeftModel.DEFAULT).toJson(), loaded.config(PeftModel.DEFAULT).toJson());
        assertEquals(eva, EvaConfig.of((LoraConfig) loaded.config(PeftModel.DEFAULT)));
        assertAlmostEquals(TinyModels.forward(loaded.root(), x), expected, 1e-5, 1e-7);
    }

    @Test
    void theCaptureLeavesTheModelStateAsItWas() {
        PeftModel pm = towers(EvaConfig.defaults());
        prepare(pm, 3);
        assertEquals(List.of(PeftModel.DEFAULT), pm.activeAdapters());
        pm.adaptedLayers()
                .values()
                .forEach(
                        l ->
                                assertEquals(
                                        List.of(PeftModel.DEFAULT),
                                        List.copyOf(l.slots().adapters().keySet())));
        assertEquals(
                pm.trainableParameterCount(),
                pm.adapters(PeftModel.DEFAULT).values().stream()
                        .mapToLong(a -> a.trainableParameterCount())
                        .sum());
    }
}
