package dev.peft4j.merge.ties;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryTensors;
import dev.peft4j.merge.MergeFixtures;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethodContract;
import dev.peft4j.merge.ModelCandidate;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** TIES: the contract, and the result against trim / elect / disjoint mean written out in plain Java. */
public class TiesTest extends MergeMethodContract {

    private static final double K = 0.3;
    private static final double LAMBDA = 0.8;

    @Override
    protected MergeMethod method() {
        return Ties.builder().optK(K).optLambda(LAMBDA).build();
    }

    /** Keeps the ceil(k n) largest magnitudes and their ties. */
    public static double[] trim(double[] tau, double k) {
        double[] mags = new double[tau.length];
        for (int i = 0; i < tau.length; i++) {
            mags[i] = Math.abs(tau[i]);
        }
        Arrays.sort(mags);
        int keep = Math.max(1, (int) Math.ceil(k * tau.length - 1e-9));
        double threshold = mags[tau.length - keep];
        double[] out = new double[tau.length];
        for (int i = 0; i < tau.length; i++) {
            out[i] = Math.abs(tau[i]) >= threshold ? tau[i] : 0;
        }
        return out;
    }

    /** TIES on one tensor, in double. */
    static double[] reference(double[] theta0, List<double[]> taus, double k, double lambda) {
        int n = theta0.length;
        List<double[]> trimmed = new ArrayList<>();
        taus.forEach(t -> trimmed.add(trim(t, k)));
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
        double majority = signSum >= 0 ? 1 : -1;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double elected = sign[i] == 0 ? majority : sign[i];
            double sum = 0;
            int count = 0;
            for (double[] t : trimmed) {
                if (t[i] != 0 && Math.signum(t[i]) == elected) {
                    sum += t[i];
                    count++;
                }
            }
            out[i] = theta0[i] + lambda * (count == 0 ? 0 : sum / count);
        }
        return out;
    }

    @Test
    void trimKeepsTheTopMagnitudesOfEachTensor() {
        NDArray tau =
                manager.create(
                        new float[] {
                            0.1f, -0.9f, 0.3f, -0.3f, 0.05f, 0.7f, -0.2f, 0.0f, 0.4f, -0.6f
                        });
        // k = 0.3 of 10 entries: the 3 largest magnitudes, 0.9, 0.7, 0.6
        assertAlmostEquals(
                Ties.trim(tau, 0.3).toFloatArray(),
                new float[] {0, -0.9f, 0, 0, 0, 0.7f, 0, 0, 0, -0.6f},
                0,
                0);
        // k = 0.4: 0.4 is 4th; ties at the threshold are kept (0.3 and -0.3 when k = 0.6)
        assertAlmostEquals(
                Ties.trim(tau, 0.6).toFloatArray(),
                new float[] {0, -0.9f, 0.3f, -0.3f, 0, 0.7f, 0, 0, 0.4f, -0.6f},
                0,
                0);
        assertEquals(10, Ties.trim(tau, 1.0).toFloatArray().length);
    }

    @Test
    void equalsTrimElectDisjointMeanInPlainJava() throws IOException {
        List<MemoryTensors> tuned = new ArrayList<>();
        List<Candidate> cs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            MemoryTensors t = MergeFixtures.fineTuned(manager, base, 50 + i, 0.1);
            tuned.add(t);
            cs.add(new ModelCandidate("t" + i, t, "memory"));
        }
        MemoryTensors merged = merge(base, cs);
        for (String key : base.keys()) {
            NDArray b = base.get(key);
            if (!b.getDataType().isFloating()) {
                continue;
            }
            List<double[]> taus = new ArrayList<>();
            for (MemoryTensors t : tuned) {
                // the task vector as the merge sees it: a float32 difference
                taus.add(MergeFixtures.values(t.get(key).sub(b)));
            }
            assertAlmostEquals(
                    MergeFixtures.values(merged.get(key)),
                    reference(MergeFixtures.values(b), taus, K, LAMBDA),
                    RTOL,
                    ATOL);
        }
    }
}
