package dev.peft4j.merge;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.core.tree.ModuleTree;
import dev.peft4j.merge.opcm.Opcm;
import dev.peft4j.merge.ta.TaskArithmetic;
import dev.peft4j.merge.ties.Ties;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.linear.SingularValueDecomposition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Merges of LoRA adapters written as a new adapter folder: exact concatenation, SVD truncation, errors. */
class AdapterOutputTest {

    @TempDir Path tmp;

    private NDManager manager;
    private MemoryTensors base;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
        base = MergeFixtures.base(manager, 1);
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private List<Candidate> adapters(int n, List<String> modules, int r) throws IOException {
        List<Candidate> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            var f = MergeFixtures.randomLora(manager, base, modules, r, 100 + i);
            out.add(
                    Candidate.open(
                            MergeFixtures.writeLora(tmp.resolve("in" + i), f, r, 2.0 * r),
                            "a" + i,
                            base));
        }
        return out;
    }

    private MemoryTensors mergeToMemory(MergeMethod method, List<Candidate> cs) throws IOException {
        MemoryOutput out = new MemoryOutput(manager);
        method.merge(base, cs, out);
        return out.tensors();
    }

    /** The fine-tuned model an adapter folder stands for. */
    private MemoryTensors applied(Path dir) throws IOException {
        MemoryTensors out = new MemoryTensors(manager);
        try (Candidate c = Candidate.open(dir, "out", base);
                NDManager scope = manager.newSubManager()) {
            for (String key : base.keys()) {
                NDArray theta0 = base.load(key, scope);
                out.put(
                        key,
                        theta0.getDataType().isFloating() ? c.weights(key, theta0, scope) : theta0);
            }
        }
        return out;
    }

    @Test
    void taskArithmeticOfAdaptersIsAnExactConcatenation() throws IOException {
        List<Candidate> cs = adapters(3, MergeFixtures.LINEAR_MODULES, 2);
        Path out = tmp.resolve("merged");
        try (AdapterFolderOutput o =
                AdapterFolderOutput.builder().setDirectory(out).optBaseModel("tiny-base").build()) {
            TaskArithmetic.builder().optLambda(0.3).build().merge(base, cs, o);
        }
        LoraConfig config = (LoraConfig) AdapterCheckpoint.readConfig(out);
        assertEquals(6, config.r());
        assertEquals(6.0, config.alpha());
        assertEquals("tiny-base", config.baseModelNameOrPath());
        MergeFixtures.assertSameModel(
                applied(out),
                mergeToMemory(TaskArithmetic.builder().optLambda(0.3).build(), cs),
                1e-5,
                1e-6);
    }

    @Test
    void truncationKeepsTheBestRankRApproximationOfEachChange() throws IOException {
        List<Candidate> cs = adapters(3, List.of("layers.0.fc1", "layers.0.fc2"), 2);
        Path out = tmp.resolve("merged");
        try (AdapterFolderOutput o =
                AdapterFolderOutput.builder().setDirectory(out).optRank(3).build()) {
            TaskArithmetic.builder().optLambda(0.5).build().merge(base, cs, o);
        }
        assertEquals(3, ((LoraConfig) AdapterCheckpoint.readConfig(out)).r());
        MemoryTensors exact = mergeToMemory(TaskArithmetic.builder().optLambda(0.5).build(), cs);
        MemoryTensors truncated = applied(out);
        for (String key : List.of("layers.0.fc1.weight", "layers.0.fc2.weight")) {
            double[] d = MergeFixtures.values(exact.get(key).sub(base.get(key)));
            int rows = (int) base.get(key).getShape().get(0);
            int cols = (int) base.get(key).getShape().get(1);
            double[][] m = new double[rows][cols];
            for (int i = 0; i < rows; i++) {
                System.arraycopy(d, i * cols, m[i], 0, cols);
            }
            SingularValueDecomposition svd =
                    new SingularValueDecomposition(new Array2DRowRealMatrix(m));
            RealMatrix best =
                    svd.getU()
                            .getSubMatrix(0, rows - 1, 0, 2)
                            .multiply(svd.getS().getSubMatrix(0, 2, 0, 2))
                            .multiply(svd.getV().getSubMatrix(0, cols - 1, 0, 2).transpose());
            double[] expected = MergeFixtures.values(base.get(key));
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    expected[i * cols + j] += best.getEntry(i, j);
                }
            }
            assertAlmostEquals(MergeFixtures.values(truncated.get(key)), expected, 1e-4, 1e-5);
        }
    }

    @Test
    void theMergedAdapterLoadsOntoTheModelWithPerModuleRanks() throws IOException {
        TinyModels.TinyModel tiny = TinyModels.transformer(manager, 9);
        MemoryTensors blockBase = new MemoryTensors(manager);
        ModuleTree.modules(tiny.block())
                .forEach(
                        (path, b) ->
                                b.getDirectParameters()
                                        .forEach(
                                                p ->
                                                        blockBase.put(
                                                                ModuleTree.join(path, p.getKey()),
                                                                p.getValue().getArray())));
        List<Candidate> cs = new ArrayList<>();
        String[][] targets = {{"query", "fc1"}, {"query"}};
        for (int i = 0; i < 2; i++) {
            Block fresh = TinyModels.transformer(manager, 9).block();
            PeftModel pm =
                    PeftModel.create(
                            fresh,
                            LoraConfig.builder()
                                    .optRank(2 + i)
                                    .optAlpha(4)
                                    .optInitLoraWeights("false")
                                    .setTargetModules(targets[i])
                                    .build());
            pm.save(tmp.resolve("lora" + i));
            cs.add(Candidate.open(tmp.resolve("lora" + i), "lora" + i, blockBase));
        }
        Path out = tmp.resolve("merged");
        try (AdapterFolderOutput o = AdapterFolderOutput.builder().setDirectory(out).build()) {
            TaskArithmetic.builder().optLambda(0.7).build().merge(blockBase, cs, o);
        }
        LoraConfig config = (LoraConfig) AdapterCheckpoint.readConfig(out);
        assertEquals(5, config.rankFor("layers.0.query"));
        assertEquals(2, config.rankFor("layers.1.fc1"));
        MemoryOutput expected = new MemoryOutput(manager);
        TaskArithmetic.builder().optLambda(0.7).build().merge(blockBase, cs, expected);
        Block merged = PeftModel.load(tiny.block(), out).mergeAndUnload();
        ModuleTree.modules(merged)
                .forEach(
                        (path, b) ->
                                b.getDirectParameters()
                                        .forEach(
                                                p ->
                                                        assertAlmostEquals(
                                                                p.getValue().getArray(),
                                                                expected.tensors()
                                                                        .get(
                                                                                ModuleTree.join(
                                                                                        path,
                                                                                        p
                                                                                                .getKey())),
                                                                1e-5,
                                                                1e-6)));
    }

    @Test
    void opcmOfAdaptersCanBeWrittenAsAnAdapter() throws IOException {
        List<Candidate> cs = adapters(3, List.of("layers.0.fc1", "layers.1.query"), 1);
        Path out = tmp.resolve("merged");
        try (AdapterFolderOutput o = AdapterFolderOutput.builder().setDirectory(out).build()) {
            Opcm.builder().build().merge(base, cs, o);
        }
        MergeFixtures.assertSameModel(
                applied(out), mergeToMemory(Opcm.builder().build(), cs), 1e-5, 1e-6);
    }

    @Test
    void theAdaptersOwnModuleNamesAreKeptUnderAPrefixedBase() throws IOException {
        MemoryTensors prefixed = new MemoryTensors(manager);
        base.keys().forEach(k -> prefixed.put("bert." + k, base.get(k)));
        var f = MergeFixtures.randomLora(manager, base, List.of("layers.0.fc1"), 2, 7);
        Path out = tmp.resolve("merged");
        try (Candidate c =
                        Candidate.open(
                                MergeFixtures.writeLora(tmp.resolve("in"), f, 2, 4), prefixed);
                AdapterFolderOutput o =
                        AdapterFolderOutput.builder()
                                .setDirectory(out)
                                .optModuleNamesFrom(List.of(c))
                                .build()) {
            TaskArithmetic.builder().optLambda(1).build().merge(prefixed, List.of(c), o);
        }
        LoraConfig config = (LoraConfig) AdapterCheckpoint.readConfig(out);
        assertEquals(List.of("layers.0.fc1"), config.targetModules().names());
        MergeFixtures.assertSameModel(
                applied(out), MergeFixtures.applyLora(manager, base, f, 2, 4), 1e-5, 1e-6);
    }

    @Test
    void aDenseChangeCannotBeWrittenAsAnAdapter() throws IOException {
        List<Candidate> cs = adapters(2, List.of("layers.0.fc1"), 2);
        Path out = tmp.resolve("merged");
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> {
                            try (AdapterFolderOutput o =
                                    AdapterFolderOutput.builder().setDirectory(out).build()) {
                                Ties.builder().build().merge(base, cs, o);
                            }
                        });
        assertTrue(
                e.getMessage().startsWith("tensor 'layers.0.fc1.weight' has a dense change"),
                e.getMessage());
        assertFalse(Files.exists(out));
    }
}
