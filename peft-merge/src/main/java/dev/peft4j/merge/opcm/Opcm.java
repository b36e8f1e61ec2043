package dev.peft4j.merge.opcm;

import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
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
 * <p>The projection applies to 2-D linear weights ({@link #isProjected}); biases, norms,
 * embeddings and convolutions are summed and share the global rescale. See {@link Projection} for
 * rank-deficient merged vectors and the low-rank path used for LoRA adapters, and {@link
 * OpcmMerger} for the continual use (the merged model after each arrival).
 */
public final class Opcm implements MergeMethod {

    /** The default alpha, 0.5: the paper's choice (half of the spectrum's mass is protected as a block). */
    public static final double DEFAULT_ALPHA = 0.5;

    private final double alpha;
    private final BiPredicate<String, Shape> projected;

    private Opcm(Builder b) {
        this.alpha = b.alpha;
        this.projected = b.projected;
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
     * The default rule: 2-D tensors named {@code *.weight} that are not embeddings (no
     * {@code embed}, {@code wte}, {@code wpe} or {@code shared} in the name) are linear weights.
     */
    public static boolean isLinearWeight(String key, Shape shape) {
        String k = key.toLowerCase(Locale.ROOT);
        return shape.dimension() == 2
                && k.endsWith(".weight")
                && !k.contains("embed")
                && !k.contains("wte.")
                && !k.contains("wpe.")
                && !k.contains("shared.");
    }

    @Override
    public String name() {
        return "opcm";
    }

    @Override
    public Map<String, Object> options() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("alpha", alpha);
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
        try (OpcmMerger merger = start(base, context)) {
            for (Candidate c : candidates) {
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

        private Builder() {}

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
