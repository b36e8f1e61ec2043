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
 * <p>Trimming is <b>per tensor</b>: in each tensor of each task vector the {@code ceil(k n)}
 * largest magnitudes are kept ({@code n} entries; entries tied with the smallest kept magnitude are
 * kept too, like the reference's {@code >= kthvalue}). The reference code trims the whole
 * flattened model at once; per-tensor trimming is the common choice of merging toolkits
 * (mergekit) and is what lets the merge stream tensor by tensor. An entry whose trimmed sum is
 * exactly zero takes the tensor's majority sign (the sign of the sum of the elected signs; + when
 * that is zero too), the reference's rule applied per tensor.
 *
 * <p>The state per tensor is the sum, the sums and counts of positive and of negative kept entries:
 * one pass over the candidates, one candidate tensor in memory at a time.
 */
public final class Ties extends TensorwiseMethod {

    /** Fraction of magnitudes kept per tensor, 0.2: the paper's default top-20%. */
    public static final double DEFAULT_K = 0.2;

    /** Scaling of the merged task vector, 1.0: the paper's default (it tunes lambda on validation data). */
    public static final double DEFAULT_LAMBDA = 1.0;

    private final double k;
    private final double lambda;

    private Ties(Builder b) {
        this.k = b.k;
        this.lambda = b.lambda;
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
        return o;
    }

    /**
     * Keeps the {@code ceil(k n)} largest magnitudes of {@code tau} (and ties), zeroing the rest;
     * the result is a new array on {@code tau}'s manager.
     */
    public static NDArray trim(NDArray tau, double k) {
        long n = tau.size();
        long keep = Math.max(1, (long) Math.ceil(k * n - 1e-9));
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
        try (State state = new State(scope, theta0)) {
            for (Candidate c : candidates) {
                try (NDManager step = scope.newSubManager()) {
                    Delta tau = c.taskVector(key, theta0, step);
                    if (!tau.isZero()) {
                        state.add(trim(tau.toDense(step, theta0.getShape()), k));
                    }
                }
            }
            return state.empty() ? Delta.zero() : Delta.dense(state.disjointMean(lambda, scope));
        }
    }

    /** Running sums and counts of one tensor, in their own manager so they are freed with the result. */
    private static final class State implements AutoCloseable {
        private final NDManager manager;
        private final NDArray like;
        private NDArray sum;
        private NDArray positiveSum;
        private NDArray positiveCount;
        private NDArray negativeSum;
        private NDArray negativeCount;

        State(NDManager scope, NDArray like) {
            this.manager = scope.newSubManager();
            this.like = like;
        }

        boolean empty() {
            return sum == null;
        }

        void add(NDArray trimmed) {
            if (sum == null) {
                sum = manager.zeros(like.getShape(), DataType.FLOAT32, like.getDevice());
                positiveSum = sum.duplicate();
                positiveCount = sum.duplicate();
                negativeSum = sum.duplicate();
                negativeCount = sum.duplicate();
            }
            try (NDManager temp = trimmed.getManager().newSubManager()) {
                NDArray positive = trimmed.maximum(0f);
                NDArray negative = trimmed.minimum(0f);
                NDArray positiveMask = trimmed.gt(0).toType(DataType.FLOAT32, false);
                NDArray negativeMask = trimmed.lt(0).toType(DataType.FLOAT32, false);
                for (NDArray a : new NDArray[] {positive, negative, positiveMask, negativeMask}) {
                    a.attach(temp);
                }
                sum.addi(trimmed);
                positiveSum.addi(positive);
                positiveCount.addi(positiveMask);
                negativeSum.addi(negative);
                negativeCount.addi(negativeMask);
            }
        }

        /** {@code lambda} times the mean of the kept entries that agree with the elected sign, on {@code out}. */
        NDArray disjointMean(double lambda, NDManager out) {
            NDArray sign = sum.sign();
            boolean majorityPositive = sign.sum().getFloat() >= 0;
            NDArray electedPositive = majorityPositive ? sign.gte(0) : sign.gt(0);
            positiveSum.divi(positiveCount.maximum(1f)); // the sums are not needed after this
            negativeSum.divi(negativeCount.maximum(1f));
            NDArray merged = NDArrays.where(electedPositive, positiveSum, negativeSum).muli(lambda);
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

        private Builder() {}

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
