package dev.peft4j.adapters;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.bone.BoneConfig;
import dev.peft4j.adapters.flora.FloraConfig;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.nola.NolaConfig;
import dev.peft4j.adapters.pego.PegoConfig;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.AdapterChecks.MethodRow;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * The generic test matrix: every method (one row) on every tiny model. A new method joins by
 * adding its row to {@link #rows()}.
 */
class AdapterMatrixTest {

    /** One row per method: name, config for a model's target names, trainable count per layer. */
    static List<MethodRow> rows() {
        List<MethodRow> rows = new ArrayList<>();
        rows.add(new MethodRow("lora",
                t -> LoraConfig.builder().setRank(4).optAlpha(8).setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> 4L * (base.outFeatures() + base.inFeatures())));
        rows.add(new MethodRow("lora-rslora-patterns",
                t -> LoraConfig.builder().setRank(2).optAlpha(4).optUseRslora(true).optDropout(0.1)
                        .optRankPattern(Map.of(t.get(0), 3)).optAlphaPattern(Map.of(t.get(0), 7.5))
                        .setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> (path.endsWith(firstTarget(path)) ? 3L : 2L) * (base.outFeatures() + base.inFeatures())));
        // Bone: r = 5 divides no input width of the tiny models, so every layer has a zero-padded tail block
        rows.add(new MethodRow("bone",
                t -> BoneConfig.builder().setRank(5).setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> 5L * base.outFeatures()));
        rows.add(new MethodRow("bat",
                t -> BoneConfig.builder().setRank(4).optVariant(BoneConfig.Variant.BAT)
                        .setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> (base.outFeatures() / 4) * 4L * 4L));
        // NOLA: the count is k_A + k_B whatever the layer; chunks of 5 leave a partial last chunk
        rows.add(new MethodRow("nola",
                t -> NolaConfig.builder().setRank(3).optAlpha(6).setNumBases(12, 7).optSeed(3).optBasisChunk(5)
                        .setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> 12L + 7L));
        rows.add(new MethodRow("flora",
                t -> FloraConfig.builder().setRank(3).optScale(2).setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> floraCount(base.weightShape(), 3)));
        rows.add(new MethodRow("pego",
                t -> PegoConfig.builder().setRank(2).optNumLoras(3).setTargetModules(TargetModules.names(t)).build(),
                (path, base) -> 3L * 2 * (base.outFeatures() + base.inFeatures())));
        return rows;
    }

    // methods.md: prod(r_i) + sum(dims_i r_i), modes [in / groups, out, kh, kw], kernel modes at full rank
    private static long floraCount(Shape weight, int r) {
        long prod = (long) r * r;
        long sum = r * (weight.get(0) + weight.get(1));
        for (int k = 2; k < weight.dimension(); k++) {
            prod *= weight.get(k);
            sum += weight.get(k) * weight.get(k);
        }
        return prod + sum;
    }

    // the first target of both tiny models ("0" / "query") selects the pattern rank 3
    private static String firstTarget(String path) {
        return path.equals("0") ? "0" : "query";
    }

    private static final Map<String, BiFunction<NDManager, Long, TinyModel>> MODELS = Map.of(
            "mlp", TinyModels::mlp, "transformer", TinyModels::transformer, "cnn", TinyModels::cnn);

    /** Every row on every model whose targeted layers the row's method supports. */
    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        try (NDManager probe = NDManager.newBaseManager()) {
            for (MethodRow row : rows()) {
                for (String model : List.of("mlp", "transformer", "cnn")) {
                    if (AdapterChecks.supports(row, MODELS.get(model).apply(probe, 42L))) {
                        out.add(Arguments.of(row, model));
                    }
                }
            }
        }
        return out.stream();
    }

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private TinyModel model(String name) {
        return MODELS.get(name).apply(manager, 42L);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void mergedForwardEqualsUnmerged(MethodRow row, String model) {
        AdapterChecks.mergedEqualsUnmerged(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void unmergeRestoresBase(MethodRow row, String model) {
        AdapterChecks.unmergeRestoresBase(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void disabledAdapterGivesBaseExactly(MethodRow row, String model) {
        AdapterChecks.disabledGivesBase(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void trainableCountMatchesFormula(MethodRow row, String model) {
        AdapterChecks.trainableCountMatchesFormula(model(model), row);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void saveLoadRoundTrip(MethodRow row, String model, @TempDir Path dir) throws IOException {
        AdapterChecks.saveLoadRoundTrip(() -> model(model), row, manager, dir.resolve("adapter"));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void onlyAdapterParametersTrain(MethodRow row, String model) {
        AdapterChecks.onlyAdapterParametersTrain(model(model), row, manager);
    }
}
