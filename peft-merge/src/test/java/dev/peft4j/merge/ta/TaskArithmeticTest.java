package dev.peft4j.merge.ta;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;

import ai.djl.ndarray.NDArray;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryTensors;
import dev.peft4j.merge.MergeFixtures;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethodContract;
import dev.peft4j.merge.ModelCandidate;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Task arithmetic: the contract, and the result against a dense sum written out in plain Java. */
class TaskArithmeticTest extends MergeMethodContract {

    private static final double LAMBDA = 0.4;

    @Override
    protected MergeMethod method() {
        return TaskArithmetic.builder().optLambda(LAMBDA).build();
    }

    /** {@code theta0 + w sum_t (theta_t - theta0)} in double, element by element. */
    static double[] reference(double[] theta0, List<double[]> tuned, double w) {
        double[] out = theta0.clone();
        for (double[] t : tuned) {
            for (int i = 0; i < out.length; i++) {
                out[i] += w * (t[i] - theta0[i]);
            }
        }
        return out;
    }

    static void checkAgainstReference(
            MemoryTensors base, List<MemoryTensors> tuned, MemoryTensors merged, double w) {
        for (String key : base.keys()) {
            NDArray b = base.get(key);
            if (!b.getDataType().isFloating()) {
                continue;
            }
            List<double[]> ts = new ArrayList<>();
            tuned.forEach(t -> ts.add(MergeFixtures.values(t.get(key))));
            assertAlmostEquals(
                    MergeFixtures.values(merged.get(key)),
                    reference(MergeFixtures.values(b), ts, w),
                    RTOL,
                    ATOL);
        }
    }

    @Test
    void equalsTheDenseSumOfScaledTaskVectors() throws IOException {
        List<MemoryTensors> tuned = new ArrayList<>();
        List<Candidate> cs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            MemoryTensors t = MergeFixtures.fineTuned(manager, base, 30 + i, 0.1);
            tuned.add(t);
            cs.add(new ModelCandidate("t" + i, t, "memory"));
        }
        checkAgainstReference(base, tuned, merge(base, cs), LAMBDA);
    }
}
