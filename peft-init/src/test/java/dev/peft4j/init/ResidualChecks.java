package dev.peft4j.init;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.SaveOption;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import dev.peft4j.init.convert.BaseFingerprint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Save/load checks of adapters trained on a residual base (PiSSA, LoRA-GA): the folder as saved
 * loads onto the residual base and is refused on the original one; the converted folder is a
 * plain LoRA of twice the rank that gives the trained outputs on the original base.
 */
public final class ResidualChecks {

    /** Tolerance of the converted adapter on W against the trained one on W_res, relative (methods.md). */
    public static final double CONVERSION_RTOL = 1e-5;

    private ResidualChecks() {}

    /** Creates the row's adapter on a fresh model, moves its weights as training would, and checks both bases. */
    public static void roundTrips(Supplier<TinyModel> fresh, Entry row, NDManager m, Path dir)
            throws IOException {
        TinyModel model = fresh.get();
        PeftModel pm = PeftModel.create(model.block(), row.tinyConfig(model.targets()));
        AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 21);
        roundTrips(pm, () -> fresh.get().block(), model.inputShape(), m, dir);
    }

    /**
     * The checks for a model whose adapter {@code default} was initialized on a residual base and
     * trained. A folder meant for the original base (PiSSA, OLoRA: PEFT redoes the decomposition
     * at load) loads onto the original base and is refused on the residual one; a folder meant for
     * the residual base (LoRA-GA) the other way round. The converted folder always loads onto the
     * original base.
     */
    public static void roundTrips(
            PeftModel trained, Supplier<Block> original, Shape inputShape, NDManager m, Path dir)
            throws IOException {
        NDArray x = TinyModels.input(m, inputShape, 9);
        NDArray expected = TinyModels.forward(trained.root(), x);
        Path asSaved = dir.resolve("as-saved");
        Path converted = dir.resolve("converted");
        trained.save(asSaved);
        trained.save(converted, SaveOption.FOR_ORIGINAL_BASE);
        boolean forOriginal = false;
        for (Map.Entry<String, Adapter> e : trained.adapters(PeftModel.DEFAULT).entrySet()) {
            forOriginal = ((LoraAdapter) e.getValue()).meantForOriginalBase();
            String key =
                    AdapterCheckpoint.PREFIX
                            + e.getKey()
                            + "."
                            + (forOriginal ? BaseFingerprint.ORIGINAL_KEY : BaseFingerprint.KEY);
            assertTrue(metadata(asSaved).containsKey(key), key);
            assertFalse(
                    metadata(converted).containsKey(key),
                    "a converted adapter needs no fingerprint");
        }

        Block residualBase = original.get();
        copyBaseWeights(trained, residualBase);
        Block right = forOriginal ? original.get() : residualBase;
        Block wrong = forOriginal ? residualBase : original.get();
        PeftModel loaded = PeftModel.load(right, asSaved);
        assertAlmostEquals(
                TinyModels.forward(loaded.root(), x),
                expected,
                AdapterChecks.ROUND_TRIP_RTOL,
                1e-7);
        if (forOriginal) {
            // the decomposition redone at load gives the training's residual base
            loaded.adaptedLayers()
                    .forEach(
                            (path, layer) ->
                                    assertAlmostEquals(
                                            layer.base().weight().getArray(),
                                            trained.baseLayer(path).weight().getArray(),
                                            1e-6,
                                            1e-7));
        }

        IllegalArgumentException refused =
                assertThrows(IllegalArgumentException.class, () -> PeftModel.load(wrong, asSaved));
        assertTrue(
                refused.getMessage().contains(forOriginal ? "original" : "FOR_ORIGINAL_BASE"),
                refused.getMessage());

        PeftModel onOriginal = PeftModel.load(original.get(), converted);
        assertAlmostEquals(
                TinyModels.forward(onOriginal.root(), x), expected, CONVERSION_RTOL, 1e-6);
        JsonObject before = trained.config(PeftModel.DEFAULT).toJson();
        JsonObject after = onOriginal.config(PeftModel.DEFAULT).toJson();
        assertEquals(2 * before.get("r").getAsInt(), after.get("r").getAsInt());
        assertTrue(after.get("init_lora_weights").getAsBoolean());
        assertEquals(2 * trained.trainableParameterCount(), onOriginal.trainableParameterCount());
    }

    private static Map<String, String> metadata(Path folder) throws IOException {
        try (SafetensorsReader reader =
                SafetensorsReader.open(folder.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
            return reader.metadata();
        }
    }

    /** Copies the adapted layers' base weights (the residual ones) of {@code from} into the same modules of {@code to}. */
    public static void copyBaseWeights(PeftModel from, Block to) {
        PeftModel target = PeftModel.of(to);
        from.adaptedLayers()
                .forEach(
                        (path, layer) ->
                                target.baseLayer(path)
                                        .weight()
                                        .getArray()
                                        .set(new NDIndex("..."), layer.base().weight().getArray()));
    }
}
