package dev.peft4j.merge.fw;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import dev.peft4j.core.testing.SafeL2Loss;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryOutput;
import dev.peft4j.merge.MemoryTensors;
import dev.peft4j.merge.MergeFixtures;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethodContract;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.ModelCandidate;
import dev.peft4j.merge.ties.TiesTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * FW-Merging: the contract (with a quadratic objective on part of the tiny model), and on a convex
 * toy (least squares of a linear layer, base weights zero): the relevant candidate is picked among
 * irrelevant ones, the steps are {@code 2 / (t + 2) * step} (checked on the weights against plain
 * Java), the TIES variant trims the step, the loss never increases, and soft mode picks one
 * candidate per task.
 */
class FwMergeTest extends MergeMethodContract {

    private static final int IN = 4;
    private static final int OUT = 3;

    @Override
    protected MergeMethod method() {
        try {
            MemoryTensors target = MergeFixtures.fineTuned(manager, base, 500, 0.05);
            return FwMerge.builder()
                    .setObjectives(
                            List.of(
                                    new QuadraticObjective(
                                            manager,
                                            target,
                                            k ->
                                                    k.startsWith("layers.0.")
                                                            || k.startsWith("embeddings."))))
                    .optIterations(3)
                    .build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Tensors {@code 0.weight [3, 4]} and {@code 0.bias [3]}. */
    private MemoryTensors linear(NDArray w, NDArray b) {
        MemoryTensors t = new MemoryTensors(manager);
        t.put("0.weight", w);
        t.put("0.bias", b);
        return t;
    }

    /** A linear layer fit by least squares to {@code y = W x + b}: convex, minimum at (W, b). */
    private LabelledObjective leastSquares(MemoryTensors truth, long seed) {
        SequentialBlock block = new SequentialBlock().add(Linear.builder().setUnits(OUT).build());
        block.initialize(manager, DataType.FLOAT32, new Shape(1, IN));
        NDArray x =
                MergeFixtures.uniform(manager, new Shape(64, IN), new SplittableRandom(seed), 1);
        NDArray y = x.matMul(truth.get("0.weight").transpose()).add(truth.get("0.bias"));
        return new LabelledObjective(
                block,
                "",
                k -> true,
                List.of(new NDList(x)),
                List.of(new NDList(y)),
                new SafeL2Loss());
    }

    /** The base (zeros), then candidates: the relevant ones first, then three large irrelevant ones. */
    private List<Candidate> pool(List<MemoryTensors> relevant, String... names) {
        SplittableRandom rnd = new SplittableRandom(9);
        List<Candidate> out = new ArrayList<>();
        for (int i = 0; i < relevant.size(); i++) {
            out.add(new ModelCandidate(names[i], relevant.get(i), "memory"));
        }
        for (int i = 0; i < 3; i++) {
            out.add(
                    new ModelCandidate(
                            "noise" + i,
                            linear(
                                    MergeFixtures.gaussian(manager, new Shape(OUT, IN), rnd, 3),
                                    MergeFixtures.gaussian(manager, new Shape(OUT), rnd, 3)),
                            "memory"));
        }
        return out;
    }

    private MemoryTensors truth(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        return linear(
                MergeFixtures.gaussian(manager, new Shape(OUT, IN), rnd, 1),
                MergeFixtures.gaussian(manager, new Shape(OUT), rnd, 1));
    }

    private MemoryTensors zeroBase() {
        return linear(manager.zeros(new Shape(OUT, IN)), manager.zeros(new Shape(OUT)));
    }

    private static FwMerge.Iteration iteration(MergeReport r, int t) {
        return (FwMerge.Iteration) r.details().get("iteration " + t);
    }

    @Test
    void theSingleRelevantCandidateIsPickedAmongIrrelevantOnes() throws IOException {
        for (FwMerge.Granularity g : FwMerge.Granularity.values()) {
            MemoryTensors truth = truth(1);
            MemoryTensors zero = zeroBase();
            FwMerge fw =
                    FwMerge.builder()
                            .setObjectives(List.of(leastSquares(truth, 2)))
                            .optGranularity(g)
                            .optIterations(5)
                            .build();
            MergeReport r =
                    fw.merge(zero, pool(List.of(truth), "relevant"), new MemoryOutput(manager));
            for (int t = 0; t < 5; t++) {
                if (g == FwMerge.Granularity.MODEL) {
                    assertEquals(List.of("relevant"), iteration(r, t).picks(), g + " t " + t);
                } else {
                    assertEquals(
                            Map.of("relevant", 2), iteration(r, t).tensorPicks(), g + " t " + t);
                }
            }
        }
    }

    /**
     * {@code theta0 + lambda sum_t tau_t} (the TIES variant: {@code theta0 + lambda TIES_sum(tau)},
     * as FusionBench's fw_hard.py starts) and then the hard steps towards {@code truth}, in double.
     */
    private static double[] expectedHard(
            List<double[]> candidates,
            double[] truth,
            double lambda,
            double step,
            int iterations,
            double tiesK) {
        double[] theta = new double[truth.length];
        if (tiesK < 1) {
            double[] merged = tiesSum(candidates, tiesK);
            for (int i = 0; i < theta.length; i++) {
                theta[i] = lambda * merged[i];
            }
        } else {
            for (double[] c : candidates) {
                for (int i = 0; i < theta.length; i++) {
                    theta[i] += lambda * c[i]; // the base is zero: task vectors are the weights
                }
            }
        }
        for (int t = 0; t < iterations; t++) {
            double gamma = 2.0 / (t + 2) * step;
            double[] d = new double[theta.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) (truth[i] - theta[i]);
            }
            if (tiesK < 1) {
                d = TiesTest.trim(d, tiesK);
            }
            for (int i = 0; i < d.length; i++) {
                theta[i] += gamma * lambda * d[i];
            }
        }
        return theta;
    }

    /**
     * FusionBench's {@code ties_merging} with {@code merge_func: sum} on one tensor: trim, elect the
     * sign of the sum (zeros take the sign of the sum of signs), sum the agreeing entries.
     */
    private static double[] tiesSum(List<double[]> taus, double k) {
        int n = taus.get(0).length;
        List<double[]> trimmed = taus.stream().map(t -> TiesTest.trim(t, k)).toList();
        double[] sign = new double[n];
        double signSum = 0;
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (double[] t : trimmed) {
                s += t[i];
            }
            sign[i] = Math.signum(s);
            signSum += sign[i];
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double e = sign[i] == 0 ? Math.signum(signSum) : sign[i];
            for (double[] t : trimmed) {
                if (e > 0 ? t[i] > 0 : t[i] < 0) {
                    out[i] += t[i];
                }
            }
        }
        return out;
    }

    private void checkSteps(boolean ties, int iterations) throws IOException {
        MemoryTensors truth = truth(3);
        List<Candidate> cs = pool(List.of(truth), "relevant");
        FwMerge fw =
                FwMerge.builder()
                        .setObjectives(List.of(leastSquares(truth, 4)))
                        .optStep(0.5)
                        .optLambda(0.4)
                        .optIterations(iterations)
                        .optTies(ties, 0.25)
                        .build();
        MemoryOutput out = new MemoryOutput(manager);
        MergeReport r = fw.merge(zeroBase(), cs, out);
        for (int t = 0; t < iterations; t++) {
            assertEquals(List.of("relevant"), iteration(r, t).picks());
            assertAlmostEquals(iteration(r, t).gamma(), 2.0 / (t + 2) * 0.5, 0, 1e-15);
        }
        for (String key : List.of("0.weight", "0.bias")) {
            List<double[]> values = new ArrayList<>();
            for (Candidate c : cs) {
                values.add(
                        MergeFixtures.values(
                                ((ModelCandidate) c).weights(key, zeroBase().get(key), manager)));
            }
            assertAlmostEquals(
                    MergeFixtures.values(out.tensors().get(key)),
                    expectedHard(
                            values,
                            MergeFixtures.values(truth.get(key)),
                            0.4,
                            0.5,
                            iterations,
                            ties ? 0.25 : 1),
                    1e-5,
                    1e-6);
        }
    }

    @Test
    void hardStepsFollowTwoOverTPlusTwo() throws IOException {
        checkSteps(false, 3);
    }

    @Test
    void theTiesVariantTrimsEachStep() throws IOException {
        checkSteps(true, 2);
    }

    private static void assertNonIncreasing(MergeReport r, int iterations) {
        double previous = Double.POSITIVE_INFINITY;
        for (int t = 0; t < iterations; t++) {
            double loss = iteration(r, t).loss();
            assertTrue(
                    loss <= previous,
                    "loss rose at iteration " + t + ": " + loss + " > " + previous);
            previous = loss;
        }
        double last = (Double) r.details().get("final loss");
        assertTrue(last <= previous && last < iteration(r, 0).loss(), "final loss " + last);
    }

    @Test
    void theLossDoesNotIncreaseOnAConvexToy() throws IOException {
        MemoryTensors truth = truth(5);
        FwMerge fw =
                FwMerge.builder()
                        .setObjectives(List.of(leastSquares(truth, 6)))
                        .optStep(1)
                        .optIterations(6)
                        .build();
        assertNonIncreasing(
                fw.merge(zeroBase(), pool(List.of(truth), "relevant"), new MemoryOutput(manager)),
                6);
    }

    @Test
    void softModePicksOneCandidatePerTaskAndLowersTheLoss() throws IOException {
        MemoryTensors a = truth(7);
        MemoryTensors b = truth(8);
        FwMerge fw =
                FwMerge.builder()
                        .setObjectives(List.of(leastSquares(a, 10), leastSquares(b, 11)))
                        .optMode(FwMerge.Mode.SOFT)
                        .optStep(1)
                        .optIterations(3)
                        .optSoft(4, 0.05)
                        .build();
        MergeReport r =
                fw.merge(zeroBase(), pool(List.of(a, b), "a", "b"), new MemoryOutput(manager));
        for (int t = 0; t < 3; t++) {
            assertEquals(List.of("a", "b"), iteration(r, t).picks(), "t " + t);
        }
        assertNonIncreasing(r, 3);
    }

    /** A NaN in the gradient is an error naming the tensor, not a silent pick of the first candidate. */
    @Test
    void aNanGradientIsAnErrorNamingTheTensor() {
        MemoryTensors truth = truth(7);
        NDArray bias = truth.get("0.bias").duplicate();
        bias.set(new ai.djl.ndarray.index.NDIndex("0"), Float.NaN);
        truth.put("0.bias", bias);
        FwMerge fw =
                FwMerge.builder()
                        .setObjectives(List.of(leastSquares(truth, 2)))
                        .optIterations(1)
                        .build();
        IllegalStateException e =
                org.junit.jupiter.api.Assertions.assertThrows(
                        IllegalStateException.class,
                        () ->
                                fw.merge(
                                        zeroBase(),
                                        pool(List.of(truth(1)), "relevant"),
                                        new MemoryOutput(manager)));
        org.junit.jupiter.api.Assertions.assertTrue(
                e.getMessage().contains("NaN") && e.getMessage().contains("0."), e.getMessage());
    }
}
