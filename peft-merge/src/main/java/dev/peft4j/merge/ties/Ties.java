package dev.peft4j.merge.ties;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.TensorwiseMethod;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * TIES-Merging (Yadav et al. 2023, "TIES-Merging: resolving interference when merging models"):
 * trim each task vector to its top-k magnitudes, elect a sign per entry (the sign of the sum of the
 * trimmed vectors), average the kept entries that agree with it (disjoint mean), and add
 * {@code lambda} times the result to the base.
 *
 * <p>Trimming is <b>per tensor</b>, with the reference's rule ({@code topk_values_mask} of the
 * TIES authors' and FusionBench's {@code ties_merging_utils.py}): in a tensor of {@code n} entries
 * the entries at least the {@code (n - int(k n))}-th smallest magnitude are kept, that is the
 * {@code int(k n) + 1} largest and their ties (all of them when {@code int(k n) = n}). The
 * reference code trims the whole flattened model at once; per-tensor trimming is the common choice
 * of merging toolkits (mergekit) and is what lets the merge stream tensor by tensor. The elected
 * sign is the sign of the trimmed sum ({@code consensus: sum}, the reference's {@code
 * resolve_sign}) or of the count of signs ({@code count}, mergekit's); an entry whose elected sign
 * is zero takes the tensor's majority sign, the sign of the sum of the elected signs (zero stays
 * zero: such entries then keep the negative ones, as the reference's {@code torch.where(sign > 0,
 * v > 0, v < 0)}). The agreeing entries are combined by {@code merge_func}: {@code mean} (the
 * paper's disjoint mean, the default here), {@code sum} (FusionBench's default) or {@code max}
 * (the largest magnitude, with the elected sign).
 *
 * <p>The state per tensor is the sum, the sums and counts of positive and of negative kept entries:
 * one pass over the candidates, one candidate tensor in memory at a time.
 */
public final class Ties extends TensorwiseMethod {

    /** Fraction of magnitudes kept per tensor, 0.2: the paper's default top-20%. */
    public static final double DEFAULT_K = 0.2;

    /** Scaling of the merged task vector, 1.0: the paper's default (it tunes lambda on validation data). */
    public static final double DEFAULT_LAMBDA = 1.0;

    /** How the agreeing entries are combined (FusionBench's {@code disjoint_merge}). */
    public enum MergeFunc {
        /** Their mean: the paper's disjoint mean. */
        MEAN,
        /** Their sum. */
        SUM,
        /** The largest magnitude, with the elected sign. */
        MAX
    }

    /** How the sign of an entry is elected. */
    public enum Consensus {
        /** The sign of the sum of the trimmed values (the paper's). */
        SUM,
        /** The sign of the number of positive minus negative values (mergekit's {@code count}). */
        COUNT
    }

    private final double k;
    private final double lambda;
    private final MergeFunc mergeFunc;
    private final Consensus consensus;
    private final Map<String, Double> weights;
    private final Map<String, Double> densities;
    private final boolean normalize;

    private Ties(Builder b) {
        this.k = b.k;
        this.lambda = b.lambda;
        this.mergeFunc = b.mergeFunc;
        this.consensus = b.consensus;
        this.weights = Map.copyOf(b.weights);
        this.densities = Map.copyOf(b.densities);
        this.normalize = b.normalize;
    }

    /** A builder: k 0.2 and lambda 1 unless told otherwise. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String name() {
        return "ties";
    }

    @Override
    public Map<String, Object> options() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("k", k);
        o.put("lambda", lambda);
        if (mergeFunc != MergeFunc.MEAN) {
            o.put("merge_func", mergeFunc.name().toLowerCase(java.util.Locale.ROOT));
        }
        if (consensus != Consensus.SUM) {
            o.put("consensus", consensus.name().toLowerCase(java.util.Locale.ROOT));
        }
        if (normalize) {
            o.put("normalize", true);
        }
        if (!weights.isEmpty()) {
            o.put("weights", new java.util.TreeMap<>(weights));
        }
        if (!densities.isEmpty()) {
            o.put("densities", new java.util.TreeMap<>(densities));
        }
        return o;
    }

    /**
     * Keeps the entries of {@code tau} whose magnitude is at least its {@code (n - int(k n))}-th
     * smallest (the {@code int(k n) + 1} largest and their ties), zeroing the rest; the result is a
     * new array on {@code tau}'s manager.
     */
    public static NDArray trim(NDArray tau, double k) {
        long n = tau.size();
        long keep = (long) (n * k) + 1; // n - kth + 1 with kth = n - int(n k)
        if (keep >= n) {
            return tau.duplicate();
        }
        try (NDManager scope = tau.getManager().newSubManager()) {
            NDArray magnitude = tau.abs();
            magnitude.attach(scope);
            // the smallest of the keep largest magnitudes; topK selects without a full sort
            NDArray threshold =
                    magnitude.flatten().topK(Math.toIntExact(keep), 0, true, false).get(0).min();
            NDArray kept = tau.mul(magnitude.gte(threshold).toType(tau.getDataType(), false));
            kept.attach(tau.getManager());
            return kept;
        }
    }

    @Override
    public Delta mergeTensor(
            String key, NDArray theta0, List<? extends Candidate> candidates, NDManager scope)
            throws IOException {
        try (State state = new State(scope, theta0, mergeFunc == MergeFunc.MAX, normalize)) {
            for (Candidate c : candidates) {
                try (NDManager step = scope.newSubManager()) {
                    Delta tau = c.taskVector(key, theta0, step);
                    if (!tau.isZero()) {
                        double w = weights.getOrDefault(c.name(), 1.0);
                        NDArray trimmed =
                                trim(
                                        tau.toDense(step, theta0.getShape()),
                                        densities.getOrDefault(c.name(), k));
                        // the weight multiplies the task vector before the sign election (mergekit)
                        state.add(w == 1 ? trimmed : trimmed.muli(w), w);
                    }
                }
            }
            return state.empty()
                    ? Delta.zero()
                    : Delta.dense(state.disjointMerge(lambda, mergeFunc, consensus, scope));
        }
    }

    /**
     * Running sums and counts of one tensor's positive and negative kept entries (their sum is the
     * trimmed sum), with extremes for {@code max} and weight sums for {@code normalize} only when
     * needed; in their own manager so they are freed with the result.
     */
    private static final class State implements AutoCloseable {
        private final NDManager manager;
        private final NDArray like;
        private final boolean extremes;
        private final boolean weighted;
        private NDArray positiveSum;
        private NDArray positiveCount;
        private NDArray negativeSum;
        private NDArray negativeCount;
        private NDArray positiveMax;
        private NDArray negativeMin;
        private NDArray positiveWeight;
        private NDArray negativeWeight;

        State(NDManager scope, NDArray like, boolean extremes, boolean weighted) {
            this.manager = scope.newSubManager();
            this.like = like;
            this.extremes = extremes;
            this.weighted = weighted;
        }

        boolean empty() {
            return positiveSum == null;
        }

        void add(NDArray trimmed, double weight) {
            if (positiveSum == null) {
                positiveSum = manager.zeros(like.getShape(), DataType.FLOAT32, like.getDevice());
                positiveCount = positiveSum.duplicate();
                negativeSum = positiveSum.duplicate();
                negativeCount = positiveSum.duplicate();
                if (extremes) {
                    positiveMax = positiveSum.duplicate();
                    negativeMin = positiveSum.duplicate();
                }
                if (weighted) {
                    positiveWeight = positiveSum.duplicate();
                    negativeWeight = positiveSum.duplicate();
                }
            }
            try (NDManager temp = trimmed.getManager().newSubManager()) {
                NDArray positive = trimmed.maximum(0f);
                NDArray negative = trimmed.minimum(0f);
                NDArray positiveMask = trimmed.gt(0).toType(DataType.FLOAT32, false);
                NDArray negativeMask = trimmed.lt(0).toType(DataType.FLOAT32, false);
                for (NDArray a : new NDArray[] {positive, negative, positiveMask, negativeMask}) {
                    a.attach(temp);
                }
                positiveSum.addi(positive);
                positiveCount.addi(positiveMask);
                negativeSum.addi(negative);
                negativeCount.addi(negativeMask);
                if (extremes) {
                    positiveMax = replace(positiveMax, positiveMax.maximum(positive));
                    negativeMin = replace(negativeMin, negativeMin.minimum(negative));
                }
                if (weighted) {
                    NDArray pw = positiveMask.mul(weight);
                    NDArray nw = negativeMask.mul(weight);
                    pw.attach(temp);
                    nw.attach(temp);
                    positiveWeight.addi(pw);
                    negativeWeight.addi(nw);
                }
            }
        }

        private NDArray replace(NDArray old, NDArray fresh) {
            fresh.attach(manager);
            old.close();
            return fresh;
        }

        /**
         * {@code lambda} times the agreeing entries combined by {@code func}, on {@code out}. The
         * elected sign {@code e} is the sign of the sum (or of the sign count); where it is 0 it
         * takes the tensor's majority {@code sign(sum(e))}. With weights ({@code normalize}) the
         * agreeing sum is divided by the agreeing weights (mergekit's divisor, 0 read as 1).
         */
        NDArray disjointMerge(double lambda, MergeFunc func, Consensus consensus, NDManager out) {
            NDArray elected =
                    consensus == Consensus.SUM
                            ? positiveSum.add(negativeSum).sign()
                            : positiveCount.sub(negativeCount).sign();
            float majority = Math.signum(elected.sum().getFloat());
            elected = NDArrays.where(elected.eq(0), elected.zerosLike().add(majority), elected);
            NDArray positive = elected.gt(0);
            NDArray merged;
            if (weighted) {
                NDArray pw =
                        positiveWeight.add(positiveWeight.eq(0).toType(DataType.FLOAT32, false));
                NDArray nw =
                        negativeWeight.add(negativeWeight.eq(0).toType(DataType.FLOAT32, false));
                merged = NDArrays.where(positive, positiveSum.div(pw), negativeSum.div(nw));
            } else if (func == MergeFunc.SUM) {
                merged = NDArrays.where(positive, positiveSum, negativeSum);
            } else if (func == MergeFunc.MAX) {
                // |selected|.max() * sign: 0 where the elected sign is 0
                merged = NDArrays.where(positive, positiveMax, negativeMin).mul(elected.abs());
            } else {
                merged =
                        NDArrays.where(
                                positive,
                                positiveSum.div(positiveCount.maximum(1f)),
                                negativeSum.div(negativeCount.maximum(1f)));
            }
            merged = merged.mul(lambda);
            merged.attach(out);
            return merged;
        }

        @Override
        public void close() {
            manager.close();
        }
    }

    /** Builds {@link Ties}. */
    public static final class Builder {
        private double k = DEFAULT_K;
        private double lambda = DEFAULT_LAMBDA;
        private MergeFunc mergeFunc = MergeFunc.MEAN;
        private Consensus consensus = Consensus.SUM;
        private final Map<String, Double> weights = new LinkedHashMap<>();
        private final Map<String, Double> densities = new LinkedHashMap<>();
        private boolean normalize;

        private Builder() {}

        /**
         * Per-candidate weights by candidate name (default 1): each trimmed task vector is
         * multiplied by its weight before the sign election, as mergekit does.
         */
        public Builder optWeights(Map<String, Double> weights) {
            weights.forEach(
                    (n, w) -> {
                        if (!Double.isFinite(w)) {
                            throw new IllegalArgumentException(
                                    "ties: weight of '" + n + "' must be finite, got " + w);
                        }
                    });
            this.weights.putAll(weights);
            return this;
        }

        /** Per-candidate kept fractions by candidate name (default {@code k}), each in (0, 1]. */
        public Builder optDensities(Map<String, Double> densities) {
            densities.forEach(
                    (n, d) -> {
                        if (!(d > 0 && d <= 1)) {
                            throw new IllegalArgumentException(
                                    "ties: density of '" + n + "' must be in (0, 1], got " + d);
                        }
                    });
            this.densities.putAll(densities);
            return this;
        }

        /**
         * Divide the agreeing weighted sum by the sum of the agreeing weights (mergekit's {@code
         * normalize}) instead of combining by {@code merge_func}.
         */
        public Builder optNormalize(boolean normalize) {
            this.normalize = normalize;
            return this;
        }

        /** How agreeing entries are combined: mean (default), sum (FusionBench's default) or max. */
        public Builder optMergeFunc(MergeFunc mergeFunc) {
            this.mergeFunc = mergeFunc;
            return this;
        }

        /** How the sign is elected: sum (default) or count. */
        public Builder optConsensus(Consensus consensus) {
            this.consensus = consensus;
            return this;
        }

        /** The fraction of magnitudes kept per tensor, in (0, 1] (default 0.2). */
        public Builder optK(double k) {
            if (!(k > 0 && k <= 1)) {
                throw new IllegalArgumentException(
                        "ties: k (the fraction of magnitudes kept) must be in (0, 1], got " + k);
            }
            this.k = k;
            return this;
        }

        /** The scaling of the merged task vector (default 1, finite). */
        public Builder optLambda(double lambda) {
            if (!Double.isFinite(lambda)) {
                throw new IllegalArgumentException("ties: lambda must be finite, got " + lambda);
            }
            this.lambda = lambda;
            return this;
        }

        /** The method. */
        public Ties build() {
            return new Ties(this);
        }
    }
}
