package dev.peft4j.merge.fw;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonObject;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryOutput;
import dev.peft4j.merge.MergeReport;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Soft FW-Merging is FusionBench's {@code fw_soft.py} ({@code fw_soft_reference.py}, a NumPy
 * transcription on a convex toy): the base as the start, the candidates only in the pool, a
 * candidate picked once per iteration, AdaMerging weights from 0.3 then 1e-8 with Adam at 1e-3
 * unclamped, and the objective-free tensor mixed at the starting weights; picks and final weights
 * at 1e-5.
 */
class FwSoftReferenceTest extends ManagedTest {

    @Test
    void softModeIsFusionBenchsAlgorithm() throws IOException, URISyntaxException {
        Path dir =
                Paths.get(FwSoftReferenceTest.class.getResource("expected.json").toURI())
                        .getParent();
        JsonObject want = JsonArrays.resource(FwSoftReferenceTest.class, "expected.json");
        Set<String> objective = Set.of("a.weight", "b.bias");
        List<ProxyObjective> tasks = new ArrayList<>();
        List<CheckpointReader> truths = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            CheckpointReader truth = CheckpointReader.open(dir.resolve("truth" + i));
            truths.add(truth);
            tasks.add(new QuadraticObjective(manager, truth, objective::contains));
        }
        FwMerge fw =
                FwMerge.builder()
                        .setObjectives(tasks)
                        .optMode(FwMerge.Mode.SOFT)
                        .optIterations(want.get("max_iters").getAsInt())
                        .optAdaMerging(want.get("ada_iters").getAsInt(), 1e-3, 0.3, 1e-8)
                        .build();
        assertEquals(
                500,
                FwMerge.builder().setObjectives(tasks).optMode(FwMerge.Mode.SOFT).build().adaSteps);
        try (CheckpointReader base = CheckpointReader.open(dir.resolve("base"))) {
            List<Candidate> cs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                cs.add(Candidate.open(dir.resolve("c" + i), "c" + i, base));
            }
            MemoryOutput out = new MemoryOutput(manager);
            MergeReport report = fw.merge(base, cs, out);
            for (Candidate c : cs) {
                c.close();
            }
            for (int t = 0; t < want.get("max_iters").getAsInt(); t++) {
                FwMerge.Iteration it = (FwMerge.Iteration) report.details().get("iteration " + t);
                List<String> picks = new ArrayList<>();
                want.getAsJsonArray("iterations")
                        .get(t)
                        .getAsJsonObject()
                        .getAsJsonArray("picks")
                        .forEach(e -> picks.add(e.getAsString()));
                assertEquals(picks, it.picks(), "iteration " + t);
            }
            JsonObject theta = want.getAsJsonObject("theta");
            for (String key : theta.keySet()) {
                assertAlmostEquals(
                        out.tensors().get(key),
                        JsonArrays.array(manager, theta.getAsJsonArray(key)),
                        1e-5,
                        1e-6);
            }
        } finally {
            for (CheckpointReader t : truths) {
                t.close();
            }
        }
    }
}
