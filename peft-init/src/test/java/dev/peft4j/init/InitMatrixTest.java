package dev.peft4j.init;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;

import ai.djl.ndarray.NDArray;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.AdapterMatrix;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import java.io.IOException;
import java.nio.file.Path;
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

    @Override
    protected MethodCatalogue.Module module() {
        return MethodCatalogue.Module.INIT;
    }

    /** The residual rows on every tiny model they support. */
    Stream<Arguments> residualCases() {
        return cases(row -> !row.keepsBase());
    }

    /** PiSSA at step 0: the adapter plus the residual base reproduce the original model (1e-5). */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("residualCases")
    void outputUnchangedAtStepZero(Entry row, String model) {
        TinyModel m = model(model);
        NDArray x = TinyModels.input(manager, m.inputShape(), 3);
        NDArray before = TinyModels.forward(m.block(), x);
        PeftModel pm = PeftModel.create(m.block(), row.tinyConfig(m.targets()));
        assertAlmostEquals(TinyModels.forward(pm.root(), x), before, 1e-5, 1e-6);
    }

    /** The residual rows' save/load: onto the residual base as saved, onto the original base converted. */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("residualCases")
    void saveLoadRoundTripOnBothBases(Entry row, String model, @TempDir Path dir)
            throws IOException {
        ResidualChecks.roundTrips(() -> model(model), row, manager, dir);
    }
}
