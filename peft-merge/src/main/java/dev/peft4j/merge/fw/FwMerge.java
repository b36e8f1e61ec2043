package dev.peft4j.merge.fw;

import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.TensorwiseMethod;
import dev.peft4j.merge.ta.TaskArithmetic;
import dev.peft4j.merge.ties.Ties;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * FW-Merging (Chen et al. 2025, "FW-Merging: scaling model merging with Frank-Wolfe optimization"):
 * start from task arithmetic ({@code lambda} 0.3), add that start point to the candidates as
 * "initial", then for {@code iterations} rounds take the gradient {@code g} of the proxy objective,
 * pick the candidate most opposed to it by cosine (per model: the smallest sum over tensors of
 * {@code cos(g_p, theta_c[p])}; per tensor: the smallest cosine for each tensor), and step towards
 * it with {@code gamma = 2 / (t + 2) * step}.
 *
 * <ul>
 *   <li>Hard: {@code theta = theta + gamma lambda (s - theta)}; the TIES variant first trims
 *       {@code s - theta} to its top 20% magnitudes per tensor.
 *   <li>Soft, as FusionBench's {@code fw_soft.py} ({@link SoftVariant#FUSIONBENCH}, the default):
 *       start at the base model; each iteration picks one candidate per target task (the pool
 *       is the candidates only, a candidate already picked in this iteration is skipped), then
 *       learns per-tensor weights {@code w} over the picked models by AdaMerging on the summed
 *       objective at {@code theta + sum_j w_j (s_j - theta)} (Adam, learning rate 1e-3, 500
 *       steps, unclamped, {@code w} starting at 0.3 in the first iteration and 1e-8 after), and
 *       moves to that point. Tensors the objective does not depend on get the same mix at the
 *       starting weights (no gradient reaches them, as in the reference). {@link
 *       SoftVariant#DAMPED}, peft4j's earlier variant, starts from task arithmetic with
 *       "initial" in the pool and steps {@code theta + gamma sum_j w_j (s_j - theta)} with
 *       {@code w} in [0, 1] from {@code lambda / |picked|}.
 * </ul>
 *
 * <p>Candidates that are LoRA adapters take part as their dense weights {@code theta0 + s B A} (the
 * authors' generative-model code stays in factor space; peft4j densifies one tensor at a time).
 * A NaN in the gradient or a cosine is an error naming the tensor and candidate.
 *
 * <p>The cosine is taken against the candidate's raw weights {@code theta_c}, as the reference
 * code does (not against its task vector; {@link CosineTarget#TASK_VECTOR} offers that). The
 * reference, at tensor granularity, replaces a tensor whose best cosine is not negative by zeros;
 * we follow the paper and always step towards the argmin. Candidates stay on disk and are read
 * one tensor at a time; the iterate lives in the objective's model and, in soft mode, in a {@link
 * dev.peft4j.merge.StateStore} between passes. Tensors the objective does not depend on keep the
 * task-arithmetic start point.
 *
 * <pre>{@code
 * // the model whose weights the merge sets: the same architecture as the base, names matching it
 * ProxyObjective sst2 = new LabelledObjective(model, "", key -> !key.startsWith("classifier."),
 *         List.of(new NDList(inputs)), List.of(new NDList(labels)), Loss.softmaxCrossEntropyLoss());
 * FwMerge fw = FwMerge.builder().setObjectives(List.of(sst2)).build();
 * MergeReport report = fw.merge(base, candidates, output);
 * }</pre>
 */
public final class FwMerge implements MergeMethod {

    /**
     * Default step scale, 0.1: FusionBench's {@code config/method/fw_merging/fw_hard.yaml} and
     * {@code fw_soft.yaml} (its vision experiments); the FW-Merging authors' language-model configs
     * use 1.
     */
    public static final double DEFAULT_STEP = 0.1;

    /** Default number of Frank-Wolfe iterations, 10. */
    public static final int DEFAULT_ITERATIONS = 10;

    /** How the step is taken. */
    public enum Mode {
        /** Towards the one selected candidate. */
        HARD,
        /** Towards a learned mix of the candidates picked for each task. */
        SOFT
    }

    /** What the selection ranges over. */
    public enum Granularity {
        /** One candidate for the whole model. */
        MODEL,
        /** One candidate per tensor. */
        TENSOR
    }

    /** Which soft mode. */
    public enum SoftVariant {
        /** FusionBench's {@code fw_soft.py}: base start, AdaMerging of the picks each iteration. */
        FUSIONBENCH,
        /** peft4j's earlier soft mode: task-arithmetic start, "initial" in the pool, damped step. */
        DAMPED
    }

    /** What the gradient's cosine is taken against. */
    public enum CosineTarget {
        /** The candidate's raw weights (the reference code; default). */
        WEIGHTS,
        /** The candidate's task vector {@code theta_c - theta0}. */
        TASK_VECTOR
    }

    final List<ProxyObjective> objectives;
    final Mode mode;
    final Granularity granularity;
    final CosineTarget cosineTarget;
    final double step;
    final int iterations;
    final double lambda;
    final boolean ties;
    final double tiesK;
    final int softSteps;
    final double softLearningRate;
    final SoftVariant softVariant;
    final int adaSteps;
    final double adaLearningRate;
    final double adaFirstWeight;
    final double adaLaterWeight;

    private FwMerge(Builder b) {
        this.objectives = List.copyOf(b.objectives);
        this.mode = b.mode;
        this.granularity = b.granularity;
        this.cosineTarget = b.cosineTarget;
        this.step = b.step;
        this.iterations = b.iterations;
        this.lambda = b.lambda;
        this.ties = b.ties;
        this.tiesK = b.tiesK;
        this.softSteps = b.softSteps;
        this.softLearningRate = b.softLearningRate;
        this.softVariant = b.softVariant;
        this.adaSteps = b.adaSteps;
        this.adaLearningRate = b.adaLearningRate;
        this.adaFirstWeight = b.adaFirstWeight;
        this.adaLaterWeight = b.adaLaterWeight;
    }

    /** Whether this run is FusionBench's soft mode. */
    boolean fusionBenchSoft() {
        return mode == Mode.SOFT && softVariant == SoftVariant.FUSIONBENCH;
    }

    /** A builder; {@link Builder#setObjectives} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** The step size of iteration {@code t} (0-based): {@code 2 / (t + 2) * step}. */
    public double gamma(int t) {
        return 2.0 / (t + 2) * step;
    }

    @Override
    public String name() {
        return "fw";
    }

    @Override
    public Map<String, Object> options() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("mode", mode.name().toLowerCase(Locale.ROOT) + (ties ? "+ties" : ""));
        o.put("granularity", granularity.name().toLowerCase(Locale.ROOT));
        o.put("cosine", cosineTarget.name().toLowerCase(Locale.ROOT));
        o.put("step", step);
        o.put("iterations", iterations);
        o.put("lambda", lambda);
        if (ties) {
            o.put("k", tiesK);
        }
        if (mode == Mode.SOFT && softVariant == SoftVariant.DAMPED) {
            o.put("soft", "damped");
            o.put("soft_steps", softSteps);
            o.put("soft_lr", softLearningRate);
        } else if (mode == Mode.SOFT) {
            o.put("ada_iters", adaSteps);
            o.put("ada_lr", adaLearningRate);
            o.put("ada_init", adaFirstWeight);
            o.put("ada_coeff", adaLaterWeight);
        }
        return o;
    }

    /**
     * The start point of hard mode: task arithmetic at {@code lambda}, or, for the TIES variant,
     * TIES at {@code lambda} with {@code merge_func: sum}, as FusionBench's {@code fw_hard.py}
     * ({@code merge_fn: ties}: {@code ties_merge}, 108-143) and the authors' code start.
     */
    TensorwiseMethod start() {
        return ties
                ? Ties.builder()
                        .optK(tiesK)
                        .optLambda(lambda)
                        .optMergeFunc(Ties.MergeFunc.SUM)
                        .build()
                : TaskArithmetic.builder().optLambda(lambda).build();
    }

    @Override
    public MergeReport merge(
            TensorSource base,
            List<? extends Candidate> candidates,
            MergeOutput output,
            MergeContext context)
            throws IOException {
        try (FwRun run = new FwRun(this, base, candidates, context)) {
            return run.merge(output);
        }
    }

    /** What one iteration did. */
    public record Iteration(
            int t,
            double gamma,
            double loss,
            List<String> picks,
            Map<String, Integer> tensorPicks) {
        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "gamma %.4f, loss %.6g, picked %s",
                    gamma,
                    loss,
                    tensorPicks.isEmpty() ? picks : tensorPicks);
        }
    }

    /** Builds {@link FwMerge}. */
    public static final class Builder {
        private List<ProxyObjective> objectives;
        private Mode mode = Mode.HARD;
        private Granularity granularity = Granularity.MODEL;
        private CosineTarget cosineTarget = CosineTarget.WEIGHTS;
        private double step = DEFAULT_STEP;
        private int iterations = DEFAULT_ITERATIONS;
        private double lambda = TaskArithmetic.DEFAULT_LAMBDA;
        private boolean ties;
        private double tiesK = Ties.DEFAULT_K;
        private int softSteps = 5;
        private double softLearningRate = 0.02;
        private SoftVariant softVariant = SoftVariant.FUSIONBENCH;
        private int adaSteps = 500;
        private double adaLearningRate = 1e-3;
        private double adaFirstWeight = 0.3;
        private double adaLaterWeight = 1e-8;

        private Builder() {}

        /** The proxy objectives, one per target task (hard mode sums them). */
        public Builder setObjectives(List<? extends ProxyObjective> objectives) {
            if (objectives.isEmpty()) {
                throw new IllegalArgumentException("fw: give at least one proxy objective");
            }
            this.objectives = List.copyOf(objectives);
            return this;
        }

        /** Hard (default) or soft. */
        public Builder optMode(Mode mode) {
            this.mode = Objects.requireNonNull(mode);
            return this;
        }

        /** Model (default) or tensor granularity of the selection. */
        public Builder optGranularity(Granularity granularity) {
            this.granularity = Objects.requireNonNull(granularity);
            return this;
        }

        /** What the cosine is taken against (default: the raw weights, as the reference code). */
        public Builder optCosineTarget(CosineTarget target) {
            this.cosineTarget = Objects.requireNonNull(target);
            return this;
        }

        /** The step scale (default 0.1): {@code gamma = 2 / (t + 2) * step}. */
        public Builder optStep(double step) {
            if (!(step > 0 && step <= 1)) {
                throw new IllegalArgumentException("fw: step must be in (0, 1], got " + step);
            }
            this.step = step;
            return this;
        }

        /** The number of iterations (default 10). */
        public Builder optIterations(int iterations) {
            if (iterations < 0) {
                throw new IllegalArgumentException(
                        "fw: iterations must be >= 0, got " + iterations);
            }
            this.iterations = iterations;
            return this;
        }

        /** Lambda of the task-arithmetic start and of the hard step (default 0.3). */
        public Builder optLambda(double lambda) {
            if (!Double.isFinite(lambda)) {
                throw new IllegalArgumentException("fw: lambda must be finite, got " + lambda);
            }
            this.lambda = lambda;
            return this;
        }

        /** The TIES variant of the hard step, trimming to the top {@code k} magnitudes per tensor (0.2). */
        public Builder optTies(boolean ties, double k) {
            if (!(k > 0 && k <= 1)) {
                throw new IllegalArgumentException("fw: TIES k must be in (0, 1], got " + k);
            }
            this.ties = ties;
            this.tiesK = k;
            return this;
        }

        /** Which soft mode (default FusionBench's). */
        public Builder optSoftVariant(SoftVariant variant) {
            this.softVariant = Objects.requireNonNull(variant);
            return this;
        }

        /**
         * FusionBench soft mode's AdaMerging: Adam steps per iteration ({@code ada_iters} 500), its
         * learning rate (1e-3), the weights' start in the first iteration (0.3) and after ({@code
         * ada_coeff} 1e-8).
         */
        public Builder optAdaMerging(int steps, double learningRate, double first, double later) {
            if (steps < 1
                    || !(learningRate > 0)
                    || !Double.isFinite(first)
                    || !Double.isFinite(later)) {
                throw new IllegalArgumentException(
                        "fw: ada_iters must be >= 1, the learning rate > 0 and the weights finite");
            }
            this.adaSteps = steps;
            this.adaLearningRate = learningRate;
            this.adaFirstWeight = first;
            this.adaLaterWeight = later;
            return this;
        }

        /**
         * The damped soft mode ({@link SoftVariant#DAMPED}): Adam steps on the mixing weights per
         * iteration (5) and their learning rate (0.02); selects that variant.
         */
        public Builder optSoft(int steps, double learningRate) {
            this.softVariant = SoftVariant.DAMPED;
            if (steps < 1 || !(learningRate > 0)) {
                throw new IllegalArgumentException(
                        "fw: soft steps must be >= 1 and the learning rate > 0, got "
                                + steps
                                + " and "
                                + learningRate);
            }
            this.softSteps = steps;
            this.softLearningRate = learningRate;
            return this;
        }

        /** Builds the method. */
        public FwMerge build() {
            if (objectives == null) {
                throw new IllegalStateException("fw: setObjectives is required");
            }
            if (ties && mode == Mode.SOFT) {
                throw new IllegalStateException("fw: the TIES variant applies to hard mode only");
            }
            return new FwMerge(this);
        }
    }
}
