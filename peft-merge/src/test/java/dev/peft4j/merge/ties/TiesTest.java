package dev.peft4j.merge.ties;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryOutput;
import dev.peft4j.merge.MemoryTensors;
import dev.peft4j.merge.MergeFixtures;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethodContract;
import dev.peft4j.merge.ModelCandidate;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** TIES: the contract, and the result against FusionBench's ties_merging transcribed with NumPy. */
public class TiesTest extends MergeMethodContract {

    private static final double K = 0.3;
    private static final double LAMBDA = 0.8;

    @Override
    protected MergeMethod method() {
        return Ties.builder().optK(K).optLambda(LAMBDA).build();
    }

    /**
     * The reference's {@code topk_values_mask} on one vector, in plain Java: keeps {@code |x| >=}
     * the {@code (n - int(n k))}-th smallest magnitude (all of them when that index is 0).
     */
    public static double[] trim(double[] tau, double k) {
        int n = tau.length;
        int kth = n - (int) (n * k);
        if (kth <= 0) {
            return tau.clone();
        }
        double[] mags = new double[n];
        for (int i = 0; i < n; i++) {
            mags[i] = Math.abs(tau[i]);
        }
        Arrays.sort(mags);
        double threshold = mags[kth - 1];
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.abs(tau[i]) >= threshold ? tau[i] : 0;
        }
        return out;
    }

    @Test
    void trimKeepsTheReferencesCountOfTopMagnitudes() {
        NDArray tau =
                manager.create(
                        new float[] {
                            0.1f, -0.9f, 0.3f, -0.3f, 0.05f, 0.7f, -0.2f, 0.0f, 0.4f, -0.6f
                        });
        // k = 0.3 of 10 entries: |x| >= the (10 - 3)-th smallest magnitude, the 4 largest
        assertAlmostEquals(
                Ties.trim(tau, 0.3).toFloatArray(),
                new float[] {0, -0.9f, 0, 0, 0, 0.7f, 0, 0, 0.4f, -0.6f},
                0,
                0);
        // k = 0.45: int(4.5) + 1 = 5 largest; 0.3 and -0.3 tie at the threshold, both kept
        assertAlmostEquals(
                Ties.trim(tau, 0.45).toFloatArray(),
                new float[] {0, -0.9f, 0.3f, -0.3f, 0, 0.7f, 0, 0, 0.4f, -0.6f},
                0,
                0);
        assertEquals(10, Ties.trim(tau, 1.0).toFloatArray().length);
    }

    static Stream<Integer> fusionBenchCases() {
        return IntStream.range(0, fusionBench().size()).boxed();
    }

    private static JsonArray fusionBench() {
        try (InputStream in = TiesTest.class.getResourceAsStream("expected.json")) {
            return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .getAsJsonArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * FusionBench's {@code ties_merging} ({@code fusionbench_ties.py}, transcribed from
     * ties_merging_utils.py and applied per tensor): merge_func sum, mean and max, its default
     * scaling 0.3, tensors whose {@code k n} is integral.
     */
    @ParameterizedTest
    @MethodSource("fusionBenchCases")
    void equalsFusionBenchsTiesPerTensor(int index) throws IOException, URISyntaxException {
        JsonObject c = fusionBench().get(index).getAsJsonObject();
        Path dir = Paths.get(TiesTest.class.getResource("expected.json").toURI()).getParent();
        Ties ties =
                Ties.builder()
                        .optK(c.get("k").getAsDouble())
                        .optLambda(c.get("lambda").getAsDouble())
                        .optMergeFunc(
                                Ties.MergeFunc.valueOf(
                                        c.get("merge_func").getAsString().toUpperCase()))
                        .build();
        try (CheckpointReader base = CheckpointReader.open(dir.resolve("base"))) {
            List<Candidate> cs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                cs.add(Candidate.open(dir.resolve("ft" + i), "ft" + i, base));
            }
            MemoryOutput out = new MemoryOutput(manager);
            ties.merge(base, cs, out);
            for (Candidate cand : cs) {
                cand.close();
            }
            JsonObject want = c.getAsJsonObject("tensors");
            for (String key : want.keySet()) {
                assertAlmostEquals(
                        out.tensors().get(key),
                        JsonArrays.array(manager, want.getAsJsonArray(key)),
                        1e-5,
                        1e-6);
            }
        }
    }

    /** consensus count elects by the number of signs: two small positives outvote one large negative. */
    @Test
    void countConsensusElectsByTheNumberOfSigns() throws IOException {
        MemoryTensors b = new MemoryTensors(manager);
        b.put("w", manager.zeros(new ai.djl.ndarray.types.Shape(1)));
        List<Candidate> cs = new ArrayList<>();
        float[] values = {0.1f, 0.2f, -1.0f};
        for (int i = 0; i < 3; i++) {
            MemoryTensors t = new MemoryTensors(manager);
            t.put("w", manager.create(new float[] {values[i]}));
            cs.add(new ModelCandidate("t" + i, t, "memory"));
        }
        for (Ties.Consensus consensus : Ties.Consensus.values()) {
            MemoryOutput out = new MemoryOutput(manager);
            Ties.builder().optK(1).optConsensus(consensus).build().merge(b, cs, out);
            float expected = consensus == Ties.Consensus.SUM ? -1.0f : 0.15f;
            assertEquals(expected, out.tensors().get("w").getFloat(0), 1e-6, consensus.name());
        }
    }

    /**
     * Per-model weights with {@code normalize} are mergekit's TIES: with nothing trimmed (density
     * 1 in both), the weighted sign election and the sum over the agreeing weights give what
     * {@code Mergekit.run} of the same models gives (checked itself against the transcription of
     * mergekit in MergekitTest).
     */
    @Test
    void weightsAndNormalizeAreMergekitsTies(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws IOException, URISyntaxException {
        Path dir =
                Paths.get(
                                TiesTest.class
                                        .getResource("/dev/peft4j/merge/mergekit/expected.json")
                                        .toURI())
                        .getParent();
        java.nio.file.Files.writeString(
                tmp.resolve("ties.yml"),
                "merge_method: ties\nbase_model: "
                        + dir.resolve("base")
                        + "\nmodels:\n  - model: "
                        + dir.resolve("m1")
                        + "\n    parameters: {weight: 1.0, density: 1.0}\n  - model: "
                        + dir.resolve("m2")
                        + "\n    parameters: {weight: 0.5, density: 1.0}\n");
        dev.peft4j.merge.mergekit.Mergekit.run(
                dev.peft4j.merge.mergekit.MergekitConfig.read(tmp.resolve("ties.yml")),
                tmp.resolve("mk"),
                dev.peft4j.merge.mergekit.Mergekit.RunOptions.defaults());
        Ties ours =
                Ties.builder()
                        .optK(1)
                        .optWeights(java.util.Map.of("m1", 1.0, "m2", 0.5))
                        .optNormalize(true)
                        .build();
        try (CheckpointReader base = CheckpointReader.open(dir.resolve("base"));
                CheckpointReader mk = CheckpointReader.open(tmp.resolve("mk"))) {
            List<Candidate> cs =
                    List.of(
                            Candidate.open(dir.resolve("m1"), "m1", base),
                            Candidate.open(dir.resolve("m2"), "m2", base));
            MemoryOutput out = new MemoryOutput(manager);
            ours.merge(base, cs, out);
            for (Candidate c : cs) {
                c.close();
            }
            for (String key : mk.keys()) {
                assertAlmostEquals(out.tensors().get(key), mk.load(key, manager), 1e-5, 1e-6);
            }
        }
    }

    /** Per-candidate densities trim each task vector by its own fraction (plain Java below). */
    @Test
    void perCandidateDensitiesTrimEachByItsOwnFraction() throws IOException {
        List<MemoryTensors> tuned = new ArrayList<>();
        List<Candidate> cs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            MemoryTensors t = MergeFixtures.fineTuned(manager, base, 70 + i, 0.1);
            tuned.add(t);
            cs.add(new ModelCandidate("t" + i, t, "memory"));
        }
        double[] density = {0.2, 0.5, 0.9};
        MemoryOutput out = new MemoryOutput(manager);
        Ties.builder()
                .optLambda(1)
                .optDensities(java.util.Map.of("t0", 0.2, "t1", 0.5, "t2", 0.9))
                .optMergeFunc(Ties.MergeFunc.SUM)
                .build()
                .merge(base, cs, out);
        for (String key : base.keys()) {
            NDArray b = base.get(key);
            if (!b.getDataType().isFloating()) {
                continue;
            }
            List<double[]> trimmed = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                trimmed.add(trim(MergeFixtures.values(tuned.get(i).get(key).sub(b)), density[i]));
            }
            double[] b0 = MergeFixtures.values(b);
            double[] want = new double[b0.length];
            double signSum = 0;
            double[] sign = new double[b0.length];
            for (int e = 0; e < b0.length; e++) {
                double sum = 0;
                for (double[] t : trimmed) {
                    sum += t[e];
                }
                sign[e] = Math.signum(sum);
                signSum += sign[e];
            }
            for (int e = 0; e < b0.length; e++) {
                double el = sign[e] == 0 ? Math.signum(signSum) : sign[e];
                double agree = 0;
                for (double[] t : trimmed) {
                    agree += el > 0 ? Math.max(t[e], 0) : Math.min(t[e], 0);
                }
                want[e] = b0[e] + agree;
            }
            assertAlmostEquals(MergeFixtures.values(out.tensors().get(key)), want, RTOL, ATOL);
        }
    }
}
