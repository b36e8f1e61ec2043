package dev.peft4j.merge.ta;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.Finiteness;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.ModelCandidate;
import dev.peft4j.merge.TensorwiseMethod;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Task arithmetic (Ilharco et al. 2023, "Editing models with task arithmetic"):
 * {@code theta = theta0 + lambda * sum_t tau_t}; and the simple average of the fine-tuned weights
 * {@code theta = (1/N) sum_t theta_t}, which is the same sum with {@code lambda = 1/N}.
 *
 * <p>Where every candidate's change of a tensor is low-rank (LoRA adapters) the result stays
 * factored, exactly: {@code B' = [B_1, B_2, ...]}, {@code A' = [lambda s_1 A_1; lambda s_2 A_2; ...]},
 * so it can be written as a new adapter without forming any {@code [m, n]} matrix.
 */
public final class TaskArithmetic extends TensorwiseMethod {

    /** The default lambda, 0.3: the value the task-arithmetic paper found best on held-out tasks. */
    public static final double DEFAULT_LAMBDA = 0.3;

    private final double lambda;
    private final boolean average;

    private TaskArithmetic(Builder b) {
        this.lambda = b.lambda;
        this.average = b.average;
    }

    /** A builder: task arithmetic with lambda 0.3 unless told otherwise. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return average ? "average" : "task_arithmetic";
    }

    @Override
    public Map<String, Object> options() {
        Map<String, Object> o = new LinkedHashMap<>();
        if (!average) {
            o.put("lambda", lambda);
        }
        return o;
    }

    /** The factor of each task vector for {@code n} candidates. */
    public double weight(int n) {
        return average ? 1.0 / n : lambda;
    }

    @Override
    public Delta mergeTensor(
            String key, NDArray theta0, List<? extends Candidate> candidates, NDManager scope)
            throws IOException {
        double w = weight(candidates.size());
        NDArray sum = null;
        List<Delta.LowRank> factored = new ArrayList<>();
        // full fine-tunes in one fused pass: sum their weights straight from the files, then
        // w (sum - n theta0); one read per candidate instead of load, check, subtract, scale, add
        List<ModelCandidate> models = new ArrayList<>();
        NDArray raw = null;
        for (Candidate c : candidates) {
            if (c instanceof ModelCandidate mc) {
                if (raw == null) {
                    raw = scope.zeros(theta0.getShape(), DataType.FLOAT32, theta0.getDevice());
                }
                mc.addWeightsInto(key, raw);
                models.add(mc);
            }
        }
        if (raw != null) {
            if (!Finiteness.isFinite(raw)) {
                for (ModelCandidate mc : models) {
                    try (NDManager step = scope.newSubManager()) {
                        mc.weights(key, theta0, step); // names the candidate with NaN or Inf
                    }
                }
                throw new IllegalArgumentException(
                        "task arithmetic: the sum of the candidates' '"
                                + key
                                + "' overflows float32");
            }
            try (NDManager step = scope.newSubManager()) {
                NDArray n = theta0.mul(models.size());
                n.attach(step);
                raw.subi(n);
            }
            sum = raw.muli(w);
        }
        for (Candidate c : candidates) {
            if (c instanceof ModelCandidate) {
                continue;
            }
            try (NDManager step =
                    scope.newSubManager()) { // one candidate tensor in memory at a time
                Delta tau = c.taskVector(key, theta0, step);
                if (tau instanceof Delta.LowRank lr) {
                    lr.b().attach(scope); // factors are small: kept for an exact concatenation
                    lr.a().attach(scope);
                    factored.add(lr);
                } else if (!tau.isZero()) {
                    sum = accumulate(sum, tau.toDense(step, theta0.getShape()), w, scope);
                }
            }
        }
        if (sum == null) {
            return factored.isEmpty()
                    ? Delta.zero()
                    : Delta.LowRank.concat(
                            factored, Collections.nCopies(factored.size(), w), scope);
        }
        for (Delta.LowRank lr : factored) {
            try (NDManager step = scope.newSubManager()) {
                sum.addi(lr.times(w).toDense(step, theta0.getShape()));
            }
        }
        return Delta.dense(sum);
    }

    private static NDArray accumulate(NDArray sum, NDArray tau, double w, NDManager scope) {
        tau.muli(w); // the candidate's array is ours to change (Candidate#taskVector): no second
        // copy
        if (sum == null) {
            tau.attach(scope);
            return tau;
        }
        return sum.addi(tau);
    }

    /** Builds {@link TaskArithmetic}. */
    public static final class Builder {
        private double lambda = DEFAULT_LAMBDA;
        private boolean lambdaSet;
        private boolean average;

        private Builder() {}

        /** The factor of the summed task vectors (default 0.3; finite, negative subtracts tasks). */
        public Builder optLambda(double lambda) {
            if (!Double.isFinite(lambda)) {
                throw new IllegalArgumentException(
                        "task_arithmetic: lambda must be finite, got " + lambda);
            }
            this.lambda = lambda;
            this.lambdaSet = true;
            return this;
        }

        /** The simple average of the fine-tuned weights instead ({@code lambda = 1/N}); the method is then named {@code average}. */
        public Builder optAverage(boolean average) {
            this.average = average;
            return this;
        }

        /** The method. */
        public TaskArithmetic build() {
            if (average && lambdaSet) {
                throw new IllegalArgumentException(
                        "average: lambda is 1/N by definition; do not set optLambda as well");
            }
            return new TaskArithmetic(this);
        }
    }
}
