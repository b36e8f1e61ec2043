package dev.peft4j.merge;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.tree.ModuleTree;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Candidates: task vectors of adapter folders against the adapters' own merge, and every input error. */
class CandidateTest {

    @TempDir Path tmp;

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** The parameters of a block under Hugging Face-style names ({@code layers.0.query.weight}). */
    private MemoryTensors tensorsOf(Block root) {
        MemoryTensors t = new MemoryTensors(manager);
        ModuleTree.modules(root)
                .forEach(
                        (path, block) -> {
                            for (var p : block.getDirectParameters()) {
                                t.put(ModuleTree.join(path, p.getKey()), p.getValue().getArray());
                            }
                        });
        return t;
    }

    /**
     * Saves an adapter of {@code config} on the tiny transformer, merges it into the block with the
     * method's own {@code mergeAndUnload}, and checks that the candidate's fine-tuned weights equal
     * the merged block's weights for every tensor.
     */
    private void candidateWeightsEqualTheAdaptersOwnMerge(
            AdapterConfig config, Class<? extends Delta> form) throws IOException {
        TinyModels.TinyModel tiny = TinyModels.transformer(manager, 3);
        MemoryTensors base = tensorsOf(tiny.block());
        PeftModel pm = PeftModel.create(tiny.block(), config);
        SplittableRandom rnd = new SplittableRandom(8);
        for (var adapter : pm.adapters(PeftModel.DEFAULT).values()) {
            for (NDArray a : adapter.stateDict().values()) {
                a.addi(
                        MergeFixtures.gaussian(
                                manager, a.getShape(), rnd, 0.2)); // a trained, non-zero adapter
            }
        }
        Path dir = tmp.resolve(config.peftType());
        pm.save(dir);
        MemoryTensors merged = tensorsOf(pm.mergeAndUnload());
        try (Candidate c = Candidate.open(dir, "c", base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            for (String key : base.keys()) {
                NDArray theta0 = base.load(key, scope);
                if (key.equals("layers.1.fc1.weight")) {
                    assertInstanceOf(form, c.taskVector(key, theta0, scope), key);
                }
                assertAlmostEquals(c.weights(key, theta0, scope), merged.get(key), 1e-5, 1e-6);
            }
        }
    }

    /**
     * Every catalogue row of peft-adapters on the tiny transformer's query and fc1 layers. LoRA's
     * change stays factored; NOLA's checkpoint holds seeds and coefficients, not its bases; Bat's
     * change depends on the base weight, so the candidate rebuilds it on the base tensor.
     */
    static Stream<Entry> methods() {
        return MethodCatalogue.tinyRows(MethodCatalogue.Module.ADAPTERS).stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void taskVectorsOfEveryMethodEqualItsOwnMerge(Entry row) throws IOException {
        // DoRA's change rescales the base rows: dense, built on the base tensor
        Class<? extends Delta> form =
                row.peftType().equals("LORA") && !row.name().equals("dora")
                        ? Delta.LowRank.class
                        : Delta.Dense.class;
        candidateWeightsEqualTheAdaptersOwnMerge(row.tinyConfig(List.of("query", "fc1")), form);
    }

    @Test
    void modulesToSaveAreTaskVectorsWhereTheBaseHasThemAndLeftOutOtherwise() throws IOException {
        TinyModels.TinyModel tiny = TinyModels.transformer(manager, 4);
        MemoryTensors base = tensorsOf(tiny.block());
        PeftModel pm =
                PeftModel.create(
                        tiny.block(),
                        LoraConfig.builder()
                                .optRank(2)
                                .setTargetModules("query")
                                .optModulesToSave("head")
                                .build());
        Parameter head = ModuleTree.get(tiny.block(), "head").getParameters().get("weight");
        head.getArray().addi(0.25f);
        pm.save(tmp.resolve("a"));
        try (Candidate c = Candidate.open(tmp.resolve("a"), "a", base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            NDArray theta0 = base.load("head.weight", scope);
            assertAlmostEquals(
                    c.weights("head.weight", theta0, scope), head.getArray(), 1e-6, 1e-7);
        }
        MemoryTensors withoutHead = new MemoryTensors(manager);
        for (String key : base.keys()) {
            if (!key.startsWith("head.")) {
                withoutHead.put(key, base.get(key));
            }
        }
        try (Candidate c = Candidate.open(tmp.resolve("a"), "a", withoutHead)) {
            c.validate(withoutHead);
            assertEquals(List.of("head.weight", "head.bias"), c.ignoredTensors());
        }
    }

    @Test
    void adaptersFindModulesUnderAPrefixedBase() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        MemoryTensors prefixed = new MemoryTensors(manager);
        base.keys().forEach(k -> prefixed.put("bert." + k, base.get(k)));
        Map<String, MergeFixtures.Lora> f =
                MergeFixtures.randomLora(manager, base, List.of("layers.0.query"), 2, 1);
        try (Candidate c =
                        Candidate.open(
                                MergeFixtures.writeLora(tmp.resolve("a"), f, 2, 2), "a", prefixed);
                NDManager scope = manager.newSubManager()) {
            NDArray theta0 = prefixed.load("bert.layers.0.query.weight", scope);
            assertAlmostEquals(
                    c.taskVector("bert.layers.0.query.weight", theta0, scope)
                            .toDense(scope, theta0.getShape()),
                    f.get("layers.0.query").b().matMul(f.get("layers.0.query").a()),
                    1e-6,
                    1e-7);
        }
    }

    @Test
    void adaptersSavedOnAClassifierFindTheEncodersTensors() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        var f =
                MergeFixtures.randomLora(manager, base, List.of("layers.0.fc2"), 2, 3)
                        .get("layers.0.fc2");
        Path dir =
                MergeFixtures.writeLora(tmp.resolve("clf"), Map.of("bert.layers.0.fc2", f), 2, 2);
        try (Candidate c = Candidate.open(dir, base);
                NDManager scope = manager.newSubManager()) {
            c.validate(base);
            NDArray theta0 = base.load("layers.0.fc2.weight", scope);
            assertAlmostEquals(
                    c.taskVector("layers.0.fc2.weight", theta0, scope)
                            .toDense(scope, theta0.getShape()),
                    f.b().matMul(f.a()),
                    1e-6,
                    1e-7);
            assertEquals("clf", c.name());
        }
    }

    @Test
    void aFineTunedModelWithAPrefixMatchesTheBaseByName() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        MemoryTensors tuned = MergeFixtures.fineTuned(manager, base, 2, 0.1);
        MemoryTensors prefixed = new MemoryTensors(manager);
        tuned.keys().forEach(k -> prefixed.put("bert." + k, tuned.get(k)));
        prefixed.put("classifier.weight", manager.zeros(new Shape(2, 6)));
        Candidate c = new ModelCandidate("clf", prefixed, "memory");
        c.validate(base);
        assertEquals(List.of("classifier.weight"), c.ignoredTensors());
        try (NDManager scope = manager.newSubManager()) {
            NDArray theta0 = base.load("layers.1.fc2.weight", scope);
            assertAlmostEquals(
                    c.weights("layers.1.fc2.weight", theta0, scope),
                    tuned.get("layers.1.fc2.weight"),
                    0,
                    0);
        }
    }

    @Test
    void aMissingTensorNamesTheCandidateAndTheTensor() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        MemoryTensors tuned = MergeFixtures.fineTuned(manager, base, 2, 0.1);
        MemoryTensors partial = new MemoryTensors(manager);
        tuned.keys().stream()
                .filter(k -> !k.startsWith("layers.1."))
                .forEach(k -> partial.put(k, tuned.get(k)));
        Candidate c = new ModelCandidate("half", partial, "/models/half");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> c.validate(base));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "candidate 'half' (/models/half): missing tensor"
                                        + " 'layers.1.query.weight' and 4 more that the base has"),
                e.getMessage());
    }

    @Test
    void aDifferentVocabularySizeIsReportedAsSuch() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        MemoryTensors tuned = MergeFixtures.fineTuned(manager, base, 2, 0.1);
        tuned.put("embeddings.word_embeddings.weight", manager.zeros(new Shape(13, 6)));
        Candidate c = new ModelCandidate("big-vocab", tuned, "/m");
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> c.validate(base));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "candidate 'big-vocab' (/m): different vocabulary size: tensor"
                                    + " 'embeddings.word_embeddings.weight' has 13 rows, the base"
                                    + " has 11"),
                e.getMessage());
    }

    @Test
    void anAdapterForAnotherModelNamesTheModule() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        MemoryTensors other = new MemoryTensors(manager);
        other.put("decoder.proj.weight", manager.zeros(new Shape(6, 6)));
        Map<String, MergeFixtures.Lora> f =
                MergeFixtures.randomLora(manager, other, List.of("decoder.proj"), 2, 1);
        Path dir = MergeFixtures.writeLora(tmp.resolve("x"), f, 2, 2);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Candidate.open(dir, "x", base));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "candidate 'x' ("
                                        + dir
                                        + "): adapted module 'decoder.proj' has no weight tensor in"
                                        + " the base model: No tensor 'decoder.proj.weight'"),
                e.getMessage());
    }

    @Test
    void loraFactorsThatDoNotFitTheBaseAreAShapeMismatch() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        MemoryTensors other = new MemoryTensors(manager);
        other.put("layers.0.fc1.weight", manager.zeros(new Shape(9, 5)));
        Map<String, MergeFixtures.Lora> f =
                MergeFixtures.randomLora(manager, other, List.of("layers.0.fc1"), 2, 1);
        try (Candidate c =
                Candidate.open(MergeFixtures.writeLora(tmp.resolve("x"), f, 2, 2), "x", base)) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> c.validate(base));
            assertTrue(
                    e.getMessage()
                            .endsWith(
                                    "shape mismatch for module 'layers.0.fc1': lora_A [2, 5] and"
                                            + " lora_B [9, 2] do not fit base tensor"
                                            + " 'layers.0.fc1.weight' [9, 6]"),
                    e.getMessage());
        }
    }

    /** r 4 in the config over rank-2 factors would merge at half the scale: refused, by module. */
    @Test
    void aConfigRankThatDisagreesWithTheFactorsIsRefused() throws IOException {
        MemoryTensors base = MergeFixtures.base(manager, 1);
        Map<String, MergeFixtures.Lora> f =
                MergeFixtures.randomLora(manager, base, List.of("layers.0.fc1"), 2, 1);
        try (Candidate c =
                Candidate.open(MergeFixtures.writeLora(tmp.resolve("x"), f, 4, 8), "x", base)) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> c.validate(base));
            assertTrue(
                    e.getMessage().contains("module 'layers.0.fc1'")
                            && e.getMessage().contains("rank 4 (r)"),
                    e.getMessage());
        }
        try (Candidate c =
                Candidate.open(MergeFixtures.writeLora(tmp.resolve("y"), f, 2, 8), "y", base)) {
            c.validate(base);
        }
    }
}
