package dev.peft4j.merge.opcm;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.MemoryTensors;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeFixtures;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethodContract;
import dev.peft4j.merge.ModelCandidate;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * OPCM: the contract; the merge after every arrival against {@link OpcmReference} (merging.md's
 * pseudo-code in float64 with Commons Math); the norm invariant; one model in gives it back; state
 * on disk equals state in memory; the low-rank path is taken for LoRA adapters.
 */
class OpcmTest extends MergeMethodContract {

    @Override
    protected MergeMethod method() {
        return Opcm.builder().build();
    }

    private Map<String, OpcmReference.Tensor> referenceBase() {
        Map<String, OpcmReference.Tensor> out = new LinkedHashMap<>();
        for (String key : base.keys()) {
            NDArray a = base.get(key);
            if (!a.getDataType().isFloating()) {
                continue;
            }
            Shape s = a.getShape();
            int rows = s.dimension() == 2 ? (int) s.get(0) : 1;
            out.put(
                    key,
                    new OpcmReference.Tensor(
                            MergeFixtures.values(a),
                            rows,
                            (int) (s.size() / rows),
                            Opcm.isLinearWeight(key, s)));
        }
        return out;
    }

    private static Map<String, double[]> valuesOf(
            MemoryTensors t, Map<String, OpcmReference.Tensor> keys) {
        Map<String, double[]> out = new LinkedHashMap<>();
        keys.keySet().forEach(k -> out.put(k, MergeFixtures.values(t.get(k))));
        return out;
    }

    /** Fine-tunes of different strengths, so norms and lambdas differ between steps. */
    private List<MemoryTensors> tunes(int n) throws IOException {
        List<MemoryTensors> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(MergeFixtures.fineTuned(manager, base, 60 + i, 0.05 * (i + 1)));
        }
        return out;
    }

    private void mergeAndCompareEveryStep(MergeContext context) throws IOException {
        List<MemoryTensors> tuned = tunes(4);
        Map<String, OpcmReference.Tensor> keys = referenceBase();
        OpcmReference reference = new OpcmReference(keys, Opcm.DEFAULT_ALPHA);
        try (OpcmMerger merger = Opcm.builder().build().start(base, context)) {
            for (int t = 0; t < tuned.size(); t++) {
                merger.add(new ModelCandidate("t" + t, tuned.get(t), "memory"));
                reference.add(valuesOf(tuned.get(t), keys));
                Map<String, NDArray> merged = merger.snapshot(manager);
                double normSq = 0;
                for (String k : keys.keySet()) {
                    assertAlmostEquals(
                            MergeFixtures.values(merged.get(k)),
                            reference.merged().get(k),
                            1e-4,
                            1e-5);
                    double[] m = MergeFixtures.values(merged.get(k));
                    double[] t0 = keys.get(k).values();
                    for (int i = 0; i < m.length; i++) {
                        normSq += (m[i] - t0[i]) * (m[i] - t0[i]);
                    }
                }
                // ||M - theta0|| equals the mean task-vector norm after every step
                assertAlmostEquals(Math.sqrt(normSq), reference.meanNorm(), 1e-5, 0);
                assertEquals(t + 1, merger.norms().size());
            }
            assertEquals(context.stateInMemoryBytes() == 0, merger.stateOnDisk());
        }
    }

    @Test
    void everyStepEqualsThePlainJavaReferenceAndKeepsTheNormInvariant() throws IOException {
        mergeAndCompareEveryStep(MergeContext.defaults());
    }

    @Test
    void stateOnDiskGivesTheSameMerges() throws IOException {
        mergeAndCompareEveryStep(
                MergeContext.builder().optStateInMemoryBytes(0).optWorkDirectory(tmp).build());
    }

    @Test
    void oneModelInGivesItBack() throws IOException {
        MemoryTensors tuned = MergeFixtures.fineTuned(manager, base, 70, 0.3);
        MemoryTensors merged = merge(base, List.of(new ModelCandidate("only", tuned, "memory")));
        for (String key : base.keys()) {
            // theta0 + (theta_1 - theta0) in float32: equal up to the rounding of one subtraction
            // and one addition
            assertAlmostEquals(merged.get(key), tuned.get(key), 2.4e-7, 6e-8);
        }
    }

    @Test
    void loraAdaptersTakeTheLowRankPath() throws IOException {
        List<Candidate> cs = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                var f =
                        MergeFixtures.randomLora(
                                manager,
                                base,
                                List.of("layers.0.fc1", "layers.1.query"),
                                1,
                                80 + i);
                cs.add(
                        Candidate.open(
                                MergeFixtures.writeLora(tmp.resolve("l" + i), f, 1, 2),
                                "l" + i,
                                base));
            }
            try (OpcmMerger merger = Opcm.builder().build().start(base, MergeContext.defaults())) {
                assertEquals(0, merger.add(cs.get(0)).projectedTensors());
                // merged rank 1 + new rank 1 < 6 on both adapted tensors, then 2 + 1 < 6
                OpcmMerger.Step second = merger.add(cs.get(1));
                assertEquals(2, second.projectedTensors());
                assertEquals(2, second.factoredTensors());
                assertEquals(2, merger.add(cs.get(2)).factoredTensors());
            }
        } finally {
            for (Candidate c : cs) {
                c.close();
            }
        }
    }

    @Test
    void projectionZeroesTheDiagonalAndTheLeadingBlock() {
        SplittableRandom rnd = new SplittableRandom(3);
        try (NDManager scope = manager.newSubManager()) {
            NDArray d = MergeFixtures.gaussian(scope, new Shape(7, 9), rnd, 1);
            NDArray t = MergeFixtures.gaussian(scope, new Shape(7, 9), rnd, 1);
            Projection p = Projection.ofDense(d, 0.5, scope);
            assertEquals(7, p.rank());
            assertTrue(p.split > 0, "a non-trivial leading block");
            NDArray c = p.u.transpose().matMul(t).matMul(p.v);
            NDArray projected =
                    p.project(Delta.dense(t), t.getShape(), scope).toDense(scope, t.getShape());
            NDArray c2 = p.u.transpose().matMul(projected).matMul(p.v);
            float[] before = c.toFloatArray();
            float[] after = c2.toFloatArray();
            double tol = 1e-5 * Math.sqrt(t.square().sum().getFloat());
            for (int i = 0; i < 7; i++) {
                for (int j = 0; j < 7; j++) {
                    boolean dropped = i == j || i < p.split && j < p.split;
                    // u_i^T T' v_i = 0 and U_r^T T' V_r = 0; the other coefficients are untouched
                    assertAlmostEquals(after[i * 7 + j], dropped ? 0 : before[i * 7 + j], 0, tol);
                }
            }
        }
    }

    @Test
    void aRankDeficientMergedVectorProjectsOnlyAlongItsRank() {
        SplittableRandom rnd = new SplittableRandom(4);
        try (NDManager scope = manager.newSubManager()) {
            NDArray d =
                    MergeFixtures.gaussian(scope, new Shape(8, 2), rnd, 1)
                            .matMul(MergeFixtures.gaussian(scope, new Shape(2, 6), rnd, 1));
            NDArray t = MergeFixtures.gaussian(scope, new Shape(8, 6), rnd, 1);
            Projection p = Projection.ofDense(d, 0.5, scope);
            assertEquals(2, p.rank());
            NDArray change =
                    t.sub(
                            p.project(Delta.dense(t), t.getShape(), scope)
                                    .toDense(scope, t.getShape()));
            // what was removed lies in span(U_2) x span(V_2): nothing along the arbitrary
            // null-space basis
            NDArray outside =
                    change.sub(
                            p.u.matMul(p.u.transpose())
                                    .matMul(change)
                                    .matMul(p.v)
                                    .matMul(p.v.transpose()));
            assertAlmostEquals(outside, outside.zerosLike(), 0, 1e-5);
            assertTrue(change.abs().max().getFloat() > 1e-2, "something was projected");
            NDArray zero =
                    Projection.ofDense(d.zerosLike(), 0.5, scope)
                            .project(Delta.dense(t), t.getShape(), scope)
                            .toDense(scope, t.getShape());
            assertAlmostEquals(zero, t, 0, 0);
        }
    }

    @Test
    void theFactoredSvdEqualsTheDenseOne() {
        SplittableRandom rnd = new SplittableRandom(5);
        try (NDManager scope = manager.newSubManager()) {
            NDArray pf = MergeFixtures.gaussian(scope, new Shape(9, 3), rnd, 1);
            NDArray qf = MergeFixtures.gaussian(scope, new Shape(7, 3), rnd, 1);
            NDArray t = MergeFixtures.gaussian(scope, new Shape(9, 7), rnd, 1);
            Projection factored = Projection.ofFactors(pf, qf, 0.5, scope);
            Projection dense = Projection.ofDense(pf.matMul(qf.transpose()), 0.5, scope);
            assertEquals(dense.rank(), factored.rank());
            assertAlmostEquals(factored.s, dense.s, 1e-5, 1e-6);
            assertEquals(dense.split, factored.split);
            var td = Delta.dense(t);
            assertAlmostEquals(
                    factored.project(td, t.getShape(), scope).toDense(scope, t.getShape()),
                    dense.project(td, t.getShape(), scope).toDense(scope, t.getShape()),
                    1e-4,
                    1e-5);
        }
    }
}
