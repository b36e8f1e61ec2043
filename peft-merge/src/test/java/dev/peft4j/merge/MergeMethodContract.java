package dev.peft4j.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every merge method keeps, on the tiny fixture model with full-rank task vectors:
 * results do not depend on the order of tensors, tensors no candidate changes keep the base value
 * bit for bit, the sharded folder output reads back equal to the in-memory result, LoRA adapters
 * merged through their factors equal the dense models they stand for, and bad candidates are
 * rejected with messages naming them, publishing nothing. Each method subclasses it and adds its
 * own invariants.
 */
public abstract class MergeMethodContract {

    /** Relative tolerance of float32 merge results against references. */
    protected static final double RTOL = 1e-5;

    /** Absolute tolerance of float32 merge results against references. */
    protected static final double ATOL = 1e-6;

    /** The manager of one test. */
    protected NDManager manager;

    /** The base model of one test. */
    protected MemoryTensors base;

    @TempDir protected Path tmp;

    /** The method under test. */
    protected abstract MergeMethod method();

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
        base = MergeFixtures.base(manager, 1);
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    /** Full fine-tunes of the base with seeds 10, 11, ... as candidates named t0, t1, ... */
    protected List<Candidate> fineTunes(int n, double scale) throws IOException {
        List<Candidate> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(
                    new ModelCandidate(
                            "t" + i,
                            MergeFixtures.fineTuned(manager, base, 10 + i, scale),
                            "memory"));
        }
        return out;
    }

    /** Merges into memory with the method under test. */
    protected MemoryTensors merge(TensorSource from, List<? extends Candidate> candidates)
            throws IOException {
        MemoryOutput out = new MemoryOutput(manager);
        method().merge(from, candidates, out);
        return out.tensors();
    }

    @Test
    void resultsDoNotDependOnTheOrderOfTensors() throws IOException {
        List<Candidate> cs = fineTunes(3, 0.05);
        MemoryTensors forward = merge(base, cs);
        MemoryTensors reversed = merge(new ReorderedSource(base), cs);
        MergeFixtures.assertSameModel(reversed, forward, 1e-6, 1e-7);
    }

    @Test
    void tensorsNoCandidateChangesKeepTheBaseBitForBit() throws IOException {
        Map<String, MergeFixtures.Lora> a =
                MergeFixtures.randomLora(manager, base, List.of("layers.0.query"), 2, 5);
        Map<String, MergeFixtures.Lora> b =
                MergeFixtures.randomLora(manager, base, List.of("layers.0.fc1"), 2, 6);
        try (Candidate ca =
                        Candidate.open(
                                MergeFixtures.writeLora(tmp.resolve("a"), a, 2, 4), "a", base);
                Candidate cb =
                        Candidate.open(
                                MergeFixtures.writeLora(tmp.resolve("b"), b, 2, 4), "b", base)) {
            MemoryTensors merged = merge(base, List.of(ca, cb));
            for (String key : base.keys()) {
                if (!key.equals("layers.0.query.weight") && !key.equals("layers.0.fc1.weight")) {
                    assertArrayEquals(
                            base.get(key).toByteArray(), merged.get(key).toByteArray(), key);
                }
            }
        }
    }

    @Test
    void theShardedFolderOutputReadsBackEqualToTheMemoryResult() throws IOException {
        List<Candidate> cs = fineTunes(2, 0.05);
        MemoryTensors expected = merge(base, cs);
        Path baseDir = MergeFixtures.writeModel(tmp.resolve("base"), base, 400);
        Files.writeString(baseDir.resolve("config.json"), "{\"hidden_size\": 6}");
        Path out = tmp.resolve("out");
        try (CheckpointReader b = CheckpointReader.open(baseDir);
                ModelFolderOutput o =
                        ModelFolderOutput.builder()
                                .setDirectory(out)
                                .optMaxShardBytes(400)
                                .optCopyFilesFrom(baseDir)
                                .build()) {
            MergeReport report = method().merge(b, cs, o);
            assertEquals(base.keys().size(), report.tensors());
        }
        assertTrue(
                Files.isRegularFile(out.resolve(CheckpointReader.INDEX_FILE)),
                "sharded output has an index");
        assertEquals("{\"hidden_size\": 6}", Files.readString(out.resolve("config.json")));
        try (CheckpointReader written = CheckpointReader.open(out)) {
            assertTrue(written.shards().size() > 1, "several shards");
            MergeFixtures.assertSameModel(written, expected, 0, 0);
        }
    }

    @Test
    void loraAdaptersMergedThroughTheirFactorsEqualTheirDenseModels() throws IOException {
        List<String> modules = MergeFixtures.LINEAR_MODULES;
        List<Candidate> adapters = new ArrayList<>();
        List<Candidate> dense = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Map<String, MergeFixtures.Lora> f =
                    MergeFixtures.randomLora(manager, base, modules, 2, 20 + i);
            adapters.add(
                    Candidate.open(
                            MergeFixtures.writeLora(tmp.resolve("lora" + i), f, 2, 8),
                            "c" + i,
                            base));
            dense.add(
                    new ModelCandidate(
                            "c" + i, MergeFixtures.applyLora(manager, base, f, 2, 8), "memory"));
        }
        try {
            MergeFixtures.assertSameModel(merge(base, adapters), merge(base, dense), RTOL, ATOL);
        } finally {
            for (Candidate c : adapters) {
                c.close();
            }
        }
    }

    @Test
    void aCandidateWithNanIsNamedAndNothingIsPublished() throws IOException {
        List<Candidate> cs = fineTunes(1, 0.05);
        MemoryTensors bad = MergeFixtures.fineTuned(manager, base, 99, 0.05);
        NDArray w = bad.get("layers.1.fc1.weight").duplicate();
        w.set(new NDIndex("2, 3"), Float.NaN);
        bad.put("layers.1.fc1.weight", w);
        cs.add(new ModelCandidate("broken", bad, "memory"));
        Path out = tmp.resolve("out");
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> {
                            try (ModelFolderOutput o =
                                    ModelFolderOutput.builder()
                                            .setDirectory(out)
                                            .optMaxShardBytes(1 << 20)
                                            .build()) {
                                method().merge(base, cs, o);
                            }
                        });
        assertTrue(
                e.getMessage().contains("'broken'")
                        && e.getMessage().contains("layers.1.fc1.weight")
                        && e.getMessage().contains("NaN"),
                e.getMessage());
        assertFalse(Files.exists(out), "no output under the final name");
    }

    @Test
    void aShapeMismatchIsRejectedBeforeAnyWork() throws IOException {
        MemoryTensors odd = MergeFixtures.fineTuned(manager, base, 7, 0.05);
        odd.put("layers.0.fc2.weight", manager.zeros(new Shape(6, 8)));
        List<Candidate> cs = List.of(new ModelCandidate("odd", odd, "memory"));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> merge(base, cs));
        assertEquals(
                "candidate 'odd' (memory): shape mismatch for tensor 'layers.0.fc2.weight': [6, 8],"
                        + " the base has [6, 9]",
                e.getMessage());
    }
}
