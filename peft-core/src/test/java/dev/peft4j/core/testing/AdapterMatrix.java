package dev.peft4j.core.testing;

import ai.djl.ndarray.NDManager;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.TinyModels.TinyModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The generic test matrix: every {@link MethodCatalogue} row of one module on every tiny model,
 * through the checks of {@link AdapterChecks}. A module's matrix test extends this class and names
 * its module. Rows whose initialization rewrites the base weight (PiSSA: {@code keepsBase} false)
 * skip the checks that compare against the original base; such a module checks them against its
 * residual base itself.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class AdapterMatrix extends ManagedTest {

    private static final Map<String, BiFunction<NDManager, Long, TinyModel>> MODELS =
            new LinkedHashMap<>();

    static {
        MODELS.put("mlp", TinyModels::mlp);
        MODELS.put("transformer", TinyModels::transformer);
        MODELS.put("cnn", TinyModels::cnn);
        MODELS.put("convnet", TinyModels::convnet);
        MODELS.put("embedder", TinyModels::embedder);
    }

    /** The module whose catalogue rows this matrix runs. */
    protected abstract MethodCatalogue.Module module();

    /** The rows of this matrix: the module's rows that have a tiny-model config. */
    protected List<Entry> methodRows() {
        return MethodCatalogue.tinyRows(module());
    }

    /** Every row on every tiny model it supports. */
    protected Stream<Arguments> cases() {
        return cases(row -> true);
    }

    /** The rows that keep the base, on every tiny model they support. */
    protected Stream<Arguments> baseKeepingCases() {
        return cases(Entry::keepsBase);
    }

    /** The selected rows on every tiny model whose targeted layers the row's method supports. */
    protected Stream<Arguments> cases(Predicate<Entry> which) {
        List<Arguments> out = new ArrayList<>();
        try (NDManager probe = NDManager.newBaseManager()) {
            for (Entry row : methodRows()) {
                for (String model : MODELS.keySet()) {
                    if (which.test(row)
                            && AdapterChecks.supports(row, MODELS.get(model).apply(probe, 42L))) {
                        out.add(Arguments.of(row, model));
                    }
                }
            }
        }
        return out.stream();
    }

    /** A fresh seeded tiny model by name ({@code mlp}, {@code transformer}, {@code cnn}, {@code convnet} or {@code embedder}). */
    protected TinyModel model(String name) {
        return MODELS.get(name).apply(manager, 42L);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void mergedForwardEqualsUnmerged(Entry row, String model) {
        AdapterChecks.mergedEqualsUnmerged(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("baseKeepingCases")
    void unmergeRestoresBase(Entry row, String model) {
        AdapterChecks.unmergeRestoresBase(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("baseKeepingCases")
    void disabledAdapterGivesBaseExactly(Entry row, String model) {
        AdapterChecks.disabledGivesBase(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void trainableCountMatchesFormula(Entry row, String model) {
        AdapterChecks.trainableCountMatchesFormula(model(model), row);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("baseKeepingCases")
    void saveLoadRoundTrip(Entry row, String model, @TempDir Path dir) throws IOException {
        AdapterChecks.saveLoadRoundTrip(() -> model(model), row, manager, dir.resolve("adapter"));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("baseKeepingCases")
    void deleteAndUnloadFreeWhatTheAdapterAllocated(Entry row, String model) {
        AdapterChecks.deleteAndUnloadFreeWhatTheAdapterAllocated(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void passesLeaveNothingOnTheModel(Entry row, String model) {
        AdapterChecks.passesLeaveNothingOnTheModel(model(model), row, manager);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void trainingDoesNotDependOnTheGarbageCollector(Entry row, String model) {
        AdapterChecks.trainingDoesNotDependOnTheGarbageCollector(() -> model(model), row);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void onlyAdapterParametersTrain(Entry row, String model) throws Exception {
        AdapterChecks.onlyAdapterParametersTrain(model(model), row, manager);
    }
}
