package dev.peft4j.init;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;

import ai.djl.ndarray.NDArray;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.testing.AdapterChecks.MethodRow;
import dev.peft4j.core.testing.AdapterMatrix;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import dev.peft4j.init.eva.EvaConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The generic adapter matrix ({@link AdapterMatrix}) for the initializers. Every row passes the
 * checks that hold whatever the initialization (merge equals unmerged forward, trainable count,
 * only adapter weights train). Rows that keep the base weight (EVA, and LoRA-GA before its data
 * pass, whose B is 0) also pass the base-dependent checks (disabled gives base, unmerge restores
 * base, save/load onto a fresh model); PiSSA changes the base at creation, so its base-dependent
 * behaviour is checked here against the residual base and, through the conversion, against the
 * original one.
 */
class InitMatrixTest extends AdapterMatrix {

    /** Rows whose initialization rewrites the base weight when the adapter is created. */
    static List<MethodRow> residualRows() {
        List<MethodRow> rows = new ArrayList<>();
        rows.add(
                new MethodRow(
                        "pissa",
                        t -> lora(t, "pissa").build(),
                        (path, base) -> 4L * (base.outFeatures() + base.inFeatures())));
        rows.add(
                new MethodRow(
                        "pissa_niter_2",
                        t -> lora(t, "pissa_niter_2").optUseRslora(true).build(),
                        (path, base) -> 4L * (base.outFeatures() + base.inFeatures())));
        return rows;
    }

    /** Rows whose base weight is the original one after creation. */
    static List<MethodRow> baseKeepingRows() {
        List<MethodRow> rows = new ArrayList<>();
        rows.add(
                new MethodRow(
                        "lora_ga (before data)",
                        t -> lora(t, "lora_ga").optUseRslora(true).build(),
                        (path, base) -> 4L * (base.outFeatures() + base.inFeatures())));
        rows.add(
                new MethodRow(
                        "eva (before data)",
                        t ->
                                EvaConfig.defaults()
                                        .loraBuilder()
                                        .optRank(3)
                                        .setTargetModules(TargetModules.names(t))
                                        .build(),
                        (path, base) -> 3L * (base.outFeatures() + base.inFeatures())));
        return rows;
    }

    private static LoraConfig.Builder lora(List<String> targets, String init) {
        return LoraConfig.builder()
                .optRank(4)
                .optAlpha(8)
                .optInitLoraWeights(init)
                .optInitSeed(5)
                .setTargetModules(TargetModules.names(targets));
    }

    @Override
    protected List<MethodRow> methodRows() {
        List<MethodRow> rows = new ArrayList<>(residualRows());
        rows.addAll(baseKeepingRows());
        return rows;
    }

    @Override
    protected boolean keepsBase(MethodRow row) {
        return residualRows().stream().noneMatch(r -> r.name().equals(row.name()));
    }

    /** The residual rows on every tiny model they support. */
    Stream<Arguments> residualCases() {
        return cases(row -> !keepsBase(row));
    }

    /** PiSSA at step 0: the adapter plus the residual base reproduce the original model (1e-5). */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("residualCases")
    void outputUnchangedAtStepZero(MethodRow row, String model) {
        TinyModel m = model(model);
        NDArray x = TinyModels.input(manager, m.inputShape(), 3);
        NDArray before = TinyModels.forward(m.block(), x);
        PeftModel pm = PeftModel.create(m.block(), row.config().apply(m.targets()));
        assertAlmostEquals(TinyModels.forward(pm.root(), x), before, 1e-5, 1e-6);
    }

    /** The residual rows' save/load: onto the residual base as saved, onto the original base converted. */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("residualCases")
    void saveLoadRoundTripOnBothBases(MethodRow row, String model, @TempDir Path dir)
            throws IOException {
        ResidualChecks.roundTrips(() -> model(model), row, manager, dir);
    }
}
