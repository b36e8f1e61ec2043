package dev.peft4j.merge.ta;

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

/** The simple average: the contract, and the mean of the fine-tuned weights in plain Java. */
class AverageTest extends MergeMethodContract {

    @Override
    protected MergeMethod method() {
        return TaskArithmetic.builder().optAverage(true).build();
    }

    @Test
    void equalsTheMeanOfTheFineTunedWeights() throws IOException {
        List<MemoryTensors> tuned = new ArrayList<>();
        List<Candidate> cs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            MemoryTensors t = MergeFixtures.fineTuned(manager, base, 40 + i, 0.2);
            tuned.add(t);
            cs.add(new ModelCandidate("t" + i, t, "memory"));
        }
        // theta0 + (1/N) sum (theta_t - theta0) == (1/N) sum theta_t
        TaskArithmeticTest.checkAgainstReference(base, tuned, merge(base, cs), 1.0 / 3);
    }
}
