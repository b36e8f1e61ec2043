package dev.peft4j.merge.opcm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.StateStore;
import dev.peft4j.merge.TensorLoop;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A continual OPCM merge: {@link #add} folds in one model (one pass over the model, reading the
 * base, the merged task vector and the new model one tensor at a time), and {@link #write} emits
 * the merged model as it stands. Memory holds the merged task vector (in a {@link StateStore}: on
 * disk for large models) and, while a tensor is processed, its base, merged and new values.
 *
 * <p>The global rescale {@code M = theta0 + (M - theta0) avg / n} needs the norm of the whole new
 * merge, known only at the end of the pass; it is kept as a pending factor applied when the state
 * is next read, so each arrival costs one pass. Merged task vectors of tensors changed only by
 * LoRA adapters are stored factored ({@code B [m, k]}, {@code A [k, n]}) while their rank stays
 * below {@code min(m, n)}.
 */
public final class OpcmMerger implements AutoCloseable {

    /** What one arrival did. */
    public record Step(
            int index,
            String model,
            double taskNorm,
            double meanNorm,
            double mergedNorm,
            double lambda,
            int projectedTensors,
            int factoredTensors,
            double seconds) {
        /** One progress line. */
        public String line() {
            return String.format(
                    Locale.ROOT,
                    "model %d '%s': ||tau|| %.4g, mean %.4g, ||M - theta0|| before rescale %.4g,"
                            + " lambda %.4g, %d tensors projected (%d low-rank), %.2f s",
                    index,
                    model,
                    taskNorm,
                    meanNorm,
                    mergedNorm,
                    lambda,
                    projectedTensors,
                    factoredTensors,
                    seconds);
        }
    }

    private static final String B_SUFFIX = "#lora_B";
    private static final String A_SUFFIX = "#lora_A";

    private final Opcm method;
    private final TensorSource base;
    private final MergeContext context;
    private final NDManager root;
    private final StateStore state;
    private final List<Double> norms = new ArrayList<>();
    private final List<Step> steps = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private double lambdaPrev = 1;
    private double scale = 1;
    private boolean failed;

    OpcmMerger(Opcm method, TensorSource base, MergeContext context) throws IOException {
        this.method = method;
        this.base = base;
        this.context = context;
        this.root = NDManager.newBaseManager(context.device());
        long bytes = 0;
        for (String key : base.keys()) {
            bytes += base.info(key).elementCount() * 4;
        }
        this.state = StateStore.create(context, bytes, root);
    }

    /** Folds in the next model. */
    public Step add(Candidate candidate) throws IOException {
        long start = System.nanoTime();
        requireUsable();
        if (names.contains(candidate.name())) {
            throw new IllegalArgumentException(
                    "Two candidates are named '"
                            + candidate.name()
                            + "': give them distinct names");
        }
        notes.addAll(TensorLoop.validate(base, List.of(candidate)));
        names.add(candidate.name());
        boolean first = norms.isEmpty();
        failed = true; // until the pass completes: a half-written state cannot take another model
        double[] sums = new double[2]; // ||tau_t||^2, ||new M - theta0||^2
        int[] counts = new int[2]; // projected, factored
        TensorLoop.run(
                base,
                root,
                context.listener(),
                "model " + (norms.size() + 1) + " '" + candidate.name() + "'",
                (key, theta0, scope) -> {
                    Delta tau = candidate.taskVector(key, theta0, scope);
                    sums[0] += tau.squaredNorm();
                    Delta merged =
                            first
                                    ? tau
                                    : fold(
                                            key,
                                            theta0.getShape(),
                                            read(key, scope),
                                            tau,
                                            counts,
                                            scope);
                    sums[1] += merged.squaredNorm();
                    store(key, merged);
                },
                null);
        state.endPass();
        failed = false;
        norms.add(Math.sqrt(sums[0]));
        double mean = norms.stream().mapToDouble(Double::doubleValue).average().orElse(0);
        double n = Math.sqrt(sums[1]);
        if (!first) {
            lambdaPrev = n > 0 ? n / mean : 1;
            scale = n > 0 ? mean / n : 1;
        }
        Step step =
                new Step(
                        norms.size(),
                        candidate.name(),
                        Math.sqrt(sums[0]),
                        mean,
                        n,
                        lambdaPrev,
                        counts[0],
                        counts[1],
                        (System.nanoTime() - start) / 1e9);
        steps.add(step);
        context.listener().note(step.line());
        return step;
    }

    /** {@code lambda_prev D + T'} for one tensor, T projected against D where the tensor is a linear weight. */
    private Delta fold(String key, Shape shape, Delta d, Delta tau, int[] counts, NDManager scope) {
        if (!method.isProjected(key, shape) || d.isZero() || tau.isZero()) {
            return sum(d.times(lambdaPrev), tau, shape, scope);
        }
        counts[0]++;
        if (method.projection() == Opcm.ProjectionMode.FULL) {
            NDArray dense = d.toDense(scope, shape);
            Projection p = Projection.ofDenseFull(dense, method.alpha(), scope);
            NDArray out =
                    dense.mul(lambdaPrev).add(p.project(tau, shape, scope).toDense(scope, shape));
            out.attach(scope);
            return Delta.dense(out);
        }
        if (d instanceof Delta.LowRank ld
                && !(tau instanceof Delta.Dense)
                && ld.rank() + rank(tau) < Math.min(shape.get(0), shape.get(1))) {
            counts[1]++;
            Projection p =
                    Projection.ofFactors(
                            ld.b().mul(ld.scale()), ld.a().transpose(), method.alpha(), scope);
            return p.combineFactored(lambdaPrev, tau, shape, scope);
        }
        NDArray dense = d.toDense(scope, shape);
        Projection p = Projection.ofDense(dense, method.alpha(), scope);
        Delta projected = p.project(tau, shape, scope);
        NDArray out = dense.mul(lambdaPrev).add(projected.toDense(scope, shape));
        out.attach(scope);
        return Delta.dense(out);
    }

    private static long rank(Delta d) {
        return d instanceof Delta.LowRank lr ? lr.rank() : 0;
    }

    /** {@code a + b}: dense unless both are factored or zero (summed tensors are not recompressed). */
    private static Delta sum(Delta a, Delta b, Shape shape, NDManager scope) {
        if (a.isZero()) {
            return b;
        }
        if (b.isZero()) {
            return a;
        }
        NDArray out = a.toDense(scope, shape).add(b.toDense(scope, shape));
        out.attach(scope);
        return Delta.dense(out);
    }

    /** The merged task vector of a tensor as it stands (the pending rescale applied). */
    private Delta read(String key, NDManager scope) throws IOException {
        NDArray dense = state.get(key, scope);
        if (dense != null) {
            return Delta.dense(dense).times(scale);
        }
        NDArray b = state.get(key + B_SUFFIX, scope);
        return b == null ? Delta.zero() : Delta.lowRank(b, state.get(key + A_SUFFIX, scope), scale);
    }

    private void store(String key, Delta merged) throws IOException {
        if (merged instanceof Delta.LowRank lr) {
            state.put(key + B_SUFFIX, lr.scale() == 1 ? lr.b() : lr.b().mul(lr.scale()));
            state.put(key + A_SUFFIX, lr.a());
        } else if (!merged.isZero()) {
            state.put(key, ((Delta.Dense) merged).value());
        }
    }

    /** Writes the merged model as it stands and commits {@code output}; returns the number of changed tensors. */
    public int write(MergeOutput output) throws IOException {
        requireUsable();
        if (norms.isEmpty()) {
            throw new IllegalStateException("No model was added yet");
        }
        int[] changed = {0};
        TensorLoop.run(
                base,
                root,
                context.listener(),
                "writing the merge of " + norms.size() + " models",
                (key, theta0, scope) -> {
                    Delta d = read(key, scope);
                    changed[0] += d.isZero() ? 0 : 1;
                    output.write(key, theta0, d, base.info(key).dtype());
                },
                (key, raw, scope) -> output.write(key, raw, Delta.zero(), raw.getDataType()));
        output.commit();
        return changed[0];
    }

    private void requireUsable() {
        if (failed) {
            throw new IllegalStateException(
                    "An earlier model failed midway; this merge cannot continue");
        }
    }

    /** The merged model as it stands, in memory (small models and tests). */
    public Map<String, NDArray> snapshot(NDManager manager) throws IOException {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (String key : base.keys()) {
            TensorInfo info = base.info(key);
            try (NDManager scope = root.newSubManager()) {
                NDArray theta0 =
                        base.load(
                                key,
                                scope,
                                info.dtype().isFloating() ? DataType.FLOAT32 : info.dtype());
                NDArray merged =
                        info.dtype().isFloating() ? read(key, scope).addTo(theta0) : theta0;
                merged.attach(manager);
                out.put(key, merged);
            }
        }
        return out;
    }

    /** The global task-vector norms seen so far, in arrival order. */
    public List<Double> norms() {
        return List.copyOf(norms);
    }

    /** The arrivals so far. */
    public List<Step> steps() {
        return List.copyOf(steps);
    }

    /** Whether the merged state lives on disk. */
    public boolean stateOnDisk() {
        return state.onDisk();
    }

    /** The report of the merge so far. */
    public MergeReport report(double seconds, int changedTensors, MergeOutput output) {
        Map<String, Object> details = new LinkedHashMap<>();
        for (Step s : steps) {
            details.put(
                    "step " + s.index(),
                    String.format(
                            Locale.ROOT,
                            "'%s' ||tau|| %.4g lambda %.4g, %.2f s",
                            s.model(),
                            s.taskNorm(),
                            s.lambda(),
                            s.seconds()));
        }
        details.put("state", state.onDisk() ? "on disk" : "in memory");
        return new MergeReport(
                method.name(),
                method.options(),
                steps.stream().map(Step::model).toList(),
                base.keys().size(),
                changedTensors,
                seconds,
                output.describe(),
                output.bytes(),
                details,
                notes);
    }

    /** Frees the state (and deletes its work files). */
    @Override
    public void close() throws IOException {
        try {
            state.close();
        } finally {
            root.close();
        }
    }
}
