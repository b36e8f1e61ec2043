package dev.peft4j.merge.opcm;

import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.TensorLoop;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiPredicate;

/**
 * OPCM, orthogonal-projection continual merging (Tang et al. 2025, "Merging models on the fly
 * without retraining: a sequential approach to scalable continual model merging"): models arrive
 * one at a time; each new task vector is projected away from the directions of the merged task
 * vector before it is added, and the merged model is rescaled so that its task-vector norm is the
 * mean of the task-vector norms seen so far (norms are global, over the whole model).
 *
 * <p>The projection applies to the weights of Linear layers ({@link #isProjected}: by default
 * {@link LinearWeights#forModelType} without a model type; the CLI reads the base's {@code
 * model_type}); biases, norms, embeddings and convolutions are summed and share the global rescale.
 * {@code optProjection(FULL)} projects as FusionBench's full SVD does; {@code optShuffle(seed)}
 * shuffles the arrival order as FusionBench's {@code shuffle_order} with that seed does (CPython's
 * {@code random.seed} and {@code random.shuffle}, bit for bit). Every candidate is validated
 * before the first is merged. See {@link Projection} for
 * rank-deficient merged vectors and the low-rank path used for LoRA adapters, and {@link
 * OpcmMerger} for the continual use (the merged model after each arrival).
 */
public final class Opcm implements MergeMethod {

    /** The default alpha, 0.5: the paper's choice (half of the spectrum's mass is protected as a block). */
    public static final double DEFAULT_ALPHA = 0.5;

    /** How the new task vector is projected. */
    public enum ProjectionMode {
        /**
         * Along the numerical rank of the merged task vector (singular values above 1e-6 of the
         * largest): its null space is left alone (the default).
         */
        THIN,
        /**
         * FusionBench's full SVD: every one of the {@code min(m, n)} diagonal coefficients is zeroed,
         * also those of the merged vector's null space, whose basis is whatever the SVD returns.
         */
        FULL
    }

    private final double alpha;
    private final BiPredicate<String, Shape> projected;
    private final ProjectionMode projection;
    private final Long shuffleSeed;

    private Opcm(Builder b) {
        this.alpha = b.alpha;
        this.projected = b.projected;
        this.projection = b.projection;
        this.shuffleSeed = b.shuffleSeed;
    }

    /** The projection mode. */
    public ProjectionMode projection() {
        return projection;
    }

    /** The candidates in arrival order: as given, or shuffled as CPython would with the seed. */
    public <T> List<T> arrivalOrder(List<T> candidates) {
        if (shuffleSeed == null) {
            return candidates;
        }
        List<T> order = new java.util.ArrayList<>(candidates);
        new PyRandom(shuffleSeed).shuffle(order);
        return order;
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The split threshold on the cumulative singular value mass. */
    public double alpha() {
        return alpha;
    }

    /** Whether a tensor is projected (else summed). */
    public boolean isProjected(String key, Shape shape) {
        return projected.test(key, shape);
    }

    /**
     * The rule without a model type ({@link LinearWeights#forModelType}{@code (null)}): a 2-D
     * {@code <module>.weight} whose module is not a Hugging Face embedding.
     */
    public static boolean isLinearWeight(String key, Shape shape) {
        return LinearWeights.forModelType(null).test(key, shape);
    }

    @Override
    public String name() {
        return "opcm";
    }

    @Override
    public Map<String, Object> options() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("alpha", alpha);
        if (projection != ProjectionMode.THIN) {
            o.put("projection", projection.name().toLowerCase(Locale.ROOT));
        }
        if (shuffleSeed != null) {
            o.put("shuffle", shuffleSeed);
        }
        return o;
    }

    /** Starts a continual merge on {@code base}: add models one at a time, read the merge any time. */
    public OpcmMerger start(TensorSource base, MergeContext context) throws IOException {
        return new OpcmMerger(this, base, context);
    }

    /** Adds every candidate in order and writes the merge after the last one. */
    @Override
    public MergeReport merge(
            TensorSource base,
            List<? extends Candidate> candidates,
            MergeOutput output,
            MergeContext context)
            throws IOException {
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("Nothing to merge: no candidates");
        }
        long start = System.nanoTime();
        TensorLoop.validate(base, candidates); // every candidate before any work
        try (OpcmMerger merger = start(base, context)) {
            for (Candidate c : arrivalOrder(candidates)) {
                merger.add(c);
            }
            int changed = merger.write(output);
            return merger.report((System.nanoTime() - start) / 1e9, changed, output);
        }
    }

    /** Builds {@link Opcm}. */
    public static final class Builder {
        private double alpha = DEFAULT_ALPHA;
        private BiPredicate<String, Shape> projected = Opcm::isLinearWeight;
        private ProjectionMode projection = ProjectionMode.THIN;
        private Long shuffleSeed;

        private Builder() {}

        /** Thin (default) or FusionBench's full projection. */
        public Builder optProjection(ProjectionMode projection) {
            this.projection = java.util.Objects.requireNonNull(projection);
            return this;
        }

        /** Shuffles the arrival order as FusionBench's {@code shuffle_order} with {@code seed}; null keeps it. */
        public Builder optShuffle(Long seed) {
            this.shuffleSeed = seed;
            return this;
        }

        /** The split threshold alpha in (0, 1] (default 0.5). */
        public Builder optAlpha(double alpha) {
            if (!(alpha > 0 && alpha <= 1)) {
                throw new IllegalArgumentException("opcm: alpha must be in (0, 1], got " + alpha);
            }
            this.alpha = alpha;
            return this;
        }

        /** Which tensors are projected (default {@link Opcm#isLinearWeight}); the others are summed. */
        public Builder optProjected(BiPredicate<String, Shape> projected) {
            this.projected = projected;
            return this;
        }

        /** Builds the method. */
        public Opcm build() {
            return new Opcm(this);
        }
    }
}
