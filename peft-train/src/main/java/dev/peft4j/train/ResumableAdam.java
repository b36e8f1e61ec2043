package dev.peft4j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.ParameterTracker;
import ai.djl.training.tracker.Tracker;
import java.util.Map;
import java.util.TreeMap;

/**
 * Adam (Kingma and Ba 2015) with a state that can be saved and restored, so that a training run
 * resumed from a checkpoint continues exactly: DJL's {@code Adam} keeps its moments and step
 * counts private. The update is DJL's, term for term: at step {@code t} of a parameter, the
 * learning rate is the tracker's value at {@code t}, the bias correction {@code lr sqrt(1 -
 * beta2^t) / (1 - beta1^t)}, and the engine's fused {@code adamUpdate} applies it with the same
 * arguments, so the weights equal DJL's Adam bit for bit ({@code ResumableAdamTest}). One device
 * per parameter.
 */
public final class ResumableAdam extends Optimizer {

    private final ParameterTracker learningRateTracker;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final Map<String, NDArray> means = new TreeMap<>();
    private final Map<String, NDArray> variances = new TreeMap<>();
    private final Map<String, Integer> counts = new TreeMap<>();

    private ResumableAdam(Builder b) {
        super(b);
        this.learningRateTracker = b.learningRateTracker;
        this.beta1 = b.beta1;
        this.beta2 = b.beta2;
        this.epsilon = b.epsilon;
    }

    /** A builder: Adam's defaults (learning rate 1e-3, betas 0.9 and 0.999, epsilon 1e-8). */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        int t = counts.merge(parameterId, 1, Integer::sum);
        double coef1 = 1.0 - Math.pow(beta1, t);
        double coef2 = 1.0 - Math.pow(beta2, t);
        float lr = learningRateTracker.getNewValue(parameterId, t);
        float biasCorrection = (float) (lr * Math.sqrt(coef2) / coef1);
        float weightDecay = getWeightDecay();
        if (!Float.isFinite(biasCorrection) || !Float.isFinite(weightDecay)) {
            throw new IllegalArgumentException("learning rate or weight decay is NaN or infinite");
        }
        NDArray mean = means.computeIfAbsent(parameterId, k -> moment(weight));
        NDArray variance = variances.computeIfAbsent(parameterId, k -> moment(weight));
        weight.getNDArrayInternal()
                .adamUpdate(
                        new NDList(weight, grad, mean, variance),
                        new NDList(weight),
                        lr,
                        biasCorrection,
                        weightDecay,
                        rescaleGrad,
                        clipGrad,
                        beta1,
                        beta2,
                        epsilon,
                        true,
                        false);
    }

    private static NDArray moment(NDArray weight) {
        return weight.zerosLike(); // on the weight's manager, as DJL's Adam keeps its moments
    }

    /**
     * The state of one parameter (by the id DJL's trainer updates it under, {@link
     * ai.djl.nn.Parameter#getId()}): {@code {m, v}}, arrays owned by this optimizer (do not close
     * them), or null when it was not updated yet.
     */
    public NDArray[] moments(String parameterId) {
        NDArray m = means.get(parameterId);
        return m == null ? null : new NDArray[] {m, variances.get(parameterId)};
    }

    /** The number of updates of a parameter so far (0 when none). */
    public int stepCount(String parameterId) {
        return counts.getOrDefault(parameterId, 0);
    }

    /**
     * Restores the state of one parameter: its moments (copied onto {@code manager}) and its
     * number of updates so far.
     */
    public void restore(String parameterId, NDArray m, NDArray v, int steps, NDManager manager) {
        means.put(parameterId, copy(m, manager));
        variances.put(parameterId, copy(v, manager));
        counts.put(parameterId, steps);
    }

    private static NDArray copy(NDArray a, NDManager manager) {
        NDArray c = a.duplicate();
        c.attach(manager);
        return c;
    }

    /** Builds a {@link ResumableAdam}. */
    public static final class Builder extends OptimizerBuilder<Builder> {
        private ParameterTracker learningRateTracker = Tracker.fixed(0.001f);
        private float beta1 = 0.9f;
        private float beta2 = 0.999f;
        private float epsilon = 1e-8f;

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /** The learning rate tracker (default fixed 1e-3). */
        public Builder optLearningRateTracker(ParameterTracker tracker) {
            this.learningRateTracker = tracker;
            return this;
        }

        /** beta1 (default 0.9). */
        public Builder optBeta1(float beta1) {
            this.beta1 = beta1;
            return this;
        }

        /** beta2 (default 0.999). */
        public Builder optBeta2(float beta2) {
            this.beta2 = beta2;
            return this;
        }

        /** epsilon (default 1e-8). */
        public Builder optEpsilon(float epsilon) {
            this.epsilon = epsilon;
            return this;
        }

        /** The optimizer. */
        public ResumableAdam build() {
            return new ResumableAdam(this);
        }
    }
}
