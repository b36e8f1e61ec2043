package dev.peft4j.merge.fw;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.StateStore;
import dev.peft4j.merge.TensorLoop;
import dev.peft4j.merge.TensorwiseMethod;
import dev.peft4j.merge.ties.Ties;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** One FW-Merging run: the pool (candidates + "initial"), the passes over the objective's tensors. */
final class FwRun implements AutoCloseable {

    private final FwMerge m;
    private final TensorSource base;
    private final List<? extends Candidate> candidates;
    private final MergeContext context;
    private final NDManager root;
    private final List<String> keys = new ArrayList<>();
    private final Map<String, Integer> index = new HashMap<>();
    private final List<String> notes;
    private final StateStore initial;
    private final StateStore theta;
    private final Map<String, Object> details = new LinkedHashMap<>();

    /** FusionBench soft mode: the models picked (model granularity) and the starting weight, per iteration. */
    private final List<int[]> replayPicks = new ArrayList<>();

    private final List<Double> replayWeights = new ArrayList<>();

    FwRun(FwMerge m, TensorSource base, List<? extends Candidate> candidates, MergeContext context)
            throws IOException {
        this.m = m;
        this.base = base;
        this.candidates = candidates;
        this.context = context;
        this.notes = new ArrayList<>(TensorLoop.validate(base, candidates));
        Set<String> wanted = new LinkedHashSet<>();
        m.objectives.forEach(o -> wanted.addAll(o.keys()));
        long bytes = 0;
        for (String key : base.keys()) {
            if (wanted.remove(key) && base.info(key).dtype().isFloating()) {
                index.put(key, keys.size());
                keys.add(key);
                bytes += base.info(key).elementCount() * 4;
            }
        }
        if (keys.isEmpty()) {
            throw new IllegalArgumentException(
                    "fw: the objective depends on no tensor of the base (its names: "
                            + m.objectives.get(0).keys().stream().limit(3).toList()
                            + "...; check the key prefix)");
        }
        if (!wanted.isEmpty()) {
            notes.add(
                    "fw: "
                            + wanted.size()
                            + " objective tensor(s) not in the base stay as the objective has them "
                            + wanted.stream().limit(4).toList());
        }
        this.root = NDManager.newBaseManager(context.device());
        this.initial = StateStore.create(context, bytes, root);
        this.theta = StateStore.create(context, bytes, root);
    }

    MergeReport merge(MergeOutput output) throws IOException {
        long start = System.nanoTime();
        TensorwiseMethod ta = m.start();
        boolean fb = m.fusionBenchSoft();
        TensorLoop.run(
                base,
                keys,
                root,
                context.listener(),
                fb ? "fw: the base as the start" : "fw: task-arithmetic start",
                (key, theta0, scope) -> {
                    // FusionBench's fw_soft.py starts at the pretrained model, "initial" unused
                    NDArray value =
                            fb
                                    ? theta0
                                    : ta.mergeTensor(key, theta0, candidates, scope).addTo(theta0);
                    initial.put(key, value);
                    setAll(key, value);
                },
                null);
        initial.endPass();
        for (int t = 0; t < m.iterations; t++) {
            FwMerge.Iteration it =
                    m.mode == FwMerge.Mode.HARD ? hard(t) : fb ? softFusionBench(t) : soft(t);
            details.put("iteration " + t, it);
            context.listener().note("fw iteration " + t + ": " + it);
        }
        details.put("final loss", m.objectives.stream().mapToDouble(ProxyObjective::loss).sum());
        int changed = write(output, ta);
        return new MergeReport(
                m.name(),
                m.options(),
                candidates.stream().map(Candidate::name).toList(),
                base.keys().size(),
                changed,
                (System.nanoTime() - start) / 1e9,
                output.describe(),
                output.bytes(),
                details,
                notes);
    }

    private int write(MergeOutput output, TensorwiseMethod ta) throws IOException {
        int[] changed = {0};
        TensorLoop.run(
                base,
                root,
                context.listener(),
                "fw: writing",
                (key, theta0, scope) -> {
                    Delta d =
                            index.containsKey(key)
                                    ? Delta.dense(current(key, scope).sub(theta0))
                                    : m.fusionBenchSoft()
                                            ? Delta.dense(replay(key, theta0, scope).sub(theta0))
                                            : ta.mergeTensor(key, theta0, candidates, scope);
                    changed[0] += d.isZero() ? 0 : 1;
                    output.write(key, theta0, d, base.info(key).dtype());
                },
                (key, raw, scope) -> output.write(key, raw, Delta.zero(), raw.getDataType()));
        output.commit();
        return changed[0];
    }

    /**
     * A tensor the objective does not depend on, through FusionBench's soft iterations: no
     * gradient reaches its weights, so each iteration mixes it at the starting weight, {@code
     * theta + w0 sum_j (s_j - theta)} over that iteration's picks (model granularity; with tensor
     * granularity it has no picks and stays at the base).
     */
    private NDArray replay(String key, NDArray theta0, NDManager scope) throws IOException {
        NDArray th = theta0.duplicate();
        for (int t = 0; t < replayPicks.size(); t++) {
            NDArray next = th.duplicate();
            for (int c : replayPicks.get(t)) {
                try (NDManager one = scope.newSubManager()) {
                    next.addi(pool(c, key, theta0, one).sub(th).mul(replayWeights.get(t)));
                }
            }
            th = next;
        }
        return th;
    }

    /**
     * FusionBench's soft iteration (fw_soft.py {@code run}, 330-466): per task the gradient of its
     * objective and the candidate most opposed to it, skipping those picked earlier in the
     * iteration; then AdaMerging (run_adamerging, 223-270) of the picks over the current point.
     */
    private FwMerge.Iteration softFusionBench(int t) throws IOException {
        List<int[]> picks = new ArrayList<>();
        List<Set<Integer>> taken = new ArrayList<>();
        for (int p = 0; p < keys.size(); p++) {
            taken.add(new LinkedHashSet<>());
        }
        double loss = 0;
        for (ProxyObjective task : m.objectives) {
            try (NDManager scope = root.newSubManager()) {
                Map<String, NDArray> g = new HashMap<>();
                loss += gradient(List.of(task), g, scope);
                int[] pick =
                        select(
                                g,
                                "fw iteration " + t + ": selecting for a task",
                                taken,
                                candidates.size());
                picks.add(pick);
                for (int p = 0; p < pick.length; p++) {
                    taken.get(p).add(pick[p]);
                }
            }
            if (picks.size() >= candidates.size()) {
                break; // every model picked (fw_soft.py 402-408)
            }
        }
        int[][] sets = new int[keys.size()][];
        for (int p = 0; p < keys.size(); p++) {
            sets[p] = taken.get(p).stream().mapToInt(Integer::intValue).toArray();
        }
        saveTheta(t);
        double w0 = t == 0 ? m.adaFirstWeight : m.adaLaterWeight;
        if (m.granularity == FwMerge.Granularity.MODEL) {
            replayPicks.add(picks.stream().mapToInt(pk -> pk[0]).toArray());
            replayWeights.add(w0);
        }
        SoftWeights w = SoftWeights.constant(sets, w0, m.adaLearningRate);
        for (int i = 0; i < m.adaSteps; i++) {
            mix(w, 1, t);
            try (NDManager scope = root.newSubManager()) {
                Map<String, NDArray> g = new HashMap<>();
                gradient(m.objectives, g, scope);
                w.update(mixGradient(g, sets, 1, t));
            }
        }
        mix(w, 1, t);
        return iteration(t, 1, loss, picks);
    }

    /** The hard step towards the selected candidate(s). */
    private FwMerge.Iteration hard(int t) throws IOException {
        try (NDManager scope = root.newSubManager()) {
            Map<String, NDArray> g = new HashMap<>();
            double loss = gradient(m.objectives, g, scope);
            int[] pick =
                    select(g, "fw iteration " + t + ": selecting", null, candidates.size() + 1);
            double gamma = m.gamma(t);
            TensorLoop.run(
                    base,
                    keys,
                    root,
                    context.listener(),
                    "fw iteration " + t + ": stepping",
                    (key, theta0, s) -> {
                        NDArray current = current(key, s);
                        NDArray direction = pool(pick[index.get(key)], key, theta0, s).sub(current);
                        if (m.ties) {
                            direction = Ties.trim(direction, m.tiesK);
                        }
                        setAll(key, current.add(direction.mul(gamma * m.lambda)));
                    },
                    null);
            return iteration(t, gamma, loss, List.of(pick));
        }
    }

    /** The soft step: one pick per task, mixing weights per tensor learned on the summed objective. */
    private FwMerge.Iteration soft(int t) throws IOException {
        double gamma = m.gamma(t);
        double loss = 0;
        List<int[]> picks = new ArrayList<>();
        for (ProxyObjective task : m.objectives) {
            try (NDManager scope = root.newSubManager()) {
                Map<String, NDArray> g = new HashMap<>();
                loss += gradient(List.of(task), g, scope);
                picks.add(
                        select(
                                g,
                                "fw iteration " + t + ": selecting for a task",
                                null,
                                candidates.size() + 1));
            }
        }
        int[][] sets = new int[keys.size()][];
        for (int p = 0; p < keys.size(); p++) {
            Set<Integer> distinct = new LinkedHashSet<>();
            for (int[] pick : picks) {
                distinct.add(pick[p]);
            }
            sets[p] = distinct.stream().mapToInt(Integer::intValue).toArray();
        }
        saveTheta(t);
        SoftWeights w = SoftWeights.split(sets, m.lambda, m.softLearningRate);
        for (int i = 0; i < m.softSteps; i++) {
            mix(w, gamma, t);
            try (NDManager scope = root.newSubManager()) {
                Map<String, NDArray> g = new HashMap<>();
                gradient(m.objectives, g, scope);
                w.update(mixGradient(g, sets, gamma, t));
            }
        }
        mix(w, gamma, t);
        return iteration(t, gamma, loss, picks);
    }

    /** Keeps the current iterate as {@code theta}, the point the soft step mixes around. */
    private void saveTheta(int t) throws IOException {
        TensorLoop.run(
                base,
                keys,
                root,
                context.listener(),
                "fw iteration " + t + ": saving theta",
                (key, theta0, s) -> theta.put(key, current(key, s)),
                null);
        theta.endPass();
    }

    /** Sets {@code theta + gamma sum_j w_j (s_j - theta)} into the objectives. */
    private void mix(SoftWeights w, double gamma, int t) throws IOException {
        TensorLoop.run(
                base,
                keys,
                root,
                context.listener(),
                "fw iteration " + t + ": mixing",
                (key, theta0, s) -> {
                    int p = index.get(key);
                    NDArray th = theta.get(key, s);
                    NDArray out = th.duplicate();
                    for (int j = 0; j < w.sets[p].length; j++) {
                        try (NDManager one = s.newSubManager()) {
                            out.addi(
                                    pool(w.sets[p][j], key, theta0, one)
                                            .sub(th)
                                            .mul(gamma * w.w[p][j]));
                        }
                    }
                    setAll(key, out);
                },
                null);
    }

    /** {@code d f / d w_pj = gamma <g_p, s_j - theta_p>}. */
    private double[][] mixGradient(Map<String, NDArray> g, int[][] sets, double gamma, int t)
            throws IOException {
        double[][] out = new double[keys.size()][];
        TensorLoop.run(
                base,
                keys,
                root,
                context.listener(),
                "fw iteration " + t + ": mixing gradient",
                (key, theta0, s) -> {
                    int p = index.get(key);
                    NDArray th = theta.get(key, s);
                    out[p] = new double[sets[p].length];
                    for (int j = 0; j < sets[p].length; j++) {
                        try (NDManager one = s.newSubManager()) {
                            out[p][j] =
                                    gamma
                                            * dot(
                                                    g.get(key),
                                                    pool(sets[p][j], key, theta0, one).sub(th));
                        }
                    }
                },
                null);
        return out;
    }

    /** Sums the objectives' gradients into {@code g} (arrays on {@code scope}); returns the summed loss. */
    private double gradient(
            List<ProxyObjective> objectives, Map<String, NDArray> g, NDManager scope) {
        double loss = 0;
        for (ProxyObjective o : objectives) {
            loss +=
                    o.lossAndGradient(
                            (key, grad) -> {
                                if (!index.containsKey(key)) {
                                    return;
                                }
                                NDArray copy =
                                        grad.toDevice(scope.getDevice(), false)
                                                .toType(DataType.FLOAT32, false)
                                                .duplicate();
                                copy.attach(scope);
                                NDArray sum = g.get(key);
                                if (sum == null) {
                                    g.put(key, copy);
                                } else {
                                    sum.addi(copy);
                                }
                            });
        }
        return loss;
    }

    /**
     * The pool member per tensor with the smallest cosine against the gradient (per model or per
     * tensor) among the first {@code n} (the candidates, then "initial"), skipping those in {@code
     * taken} (per tensor; null: none).
     */
    private int[] select(Map<String, NDArray> g, String what, List<Set<Integer>> taken, int n)
            throws IOException {
        double[][] cos = new double[keys.size()][n];
        TensorLoop.run(
                base,
                keys,
                root,
                context.listener(),
                what,
                (key, theta0, s) -> {
                    int p = index.get(key);
                    for (int c = 0; c < n; c++) {
                        try (NDManager one = s.newSubManager()) {
                            NDArray w = pool(c, key, theta0, one);
                            cos[p][c] =
                                    cosine(
                                            g.get(key),
                                            m.cosineTarget == FwMerge.CosineTarget.WEIGHTS
                                                    ? w
                                                    : w.sub(theta0));
                            if (Double.isNaN(cos[p][c])) {
                                throw new IllegalStateException(
                                        "fw: the cosine of the gradient of '"
                                                + key
                                                + "' with "
                                                + poolName(c)
                                                + " is NaN (NaN or Inf in the gradient or the"
                                                + " weights)");
                            }
                        }
                    }
                },
                null);
        int[] pick = new int[keys.size()];
        if (m.granularity == FwMerge.Granularity.TENSOR) {
            for (int p = 0; p < keys.size(); p++) {
                pick[p] = argmin(cos[p], taken == null ? Set.of() : taken.get(p));
            }
        } else {
            double[] sums = new double[n];
            for (double[] row : cos) {
                for (int c = 0; c < n; c++) {
                    sums[c] += row[c];
                }
            }
            Arrays.fill(pick, argmin(sums, taken == null ? Set.of() : taken.get(0)));
        }
        return pick;
    }

    /** The index of the smallest value not in {@code skip} (the first on ties, as the reference's strict {@code <}). */
    private static int argmin(double[] v, Set<Integer> skip) {
        int best = -1;
        for (int i = 0; i < v.length; i++) {
            if (!skip.contains(i) && (best < 0 || v[i] < v[best])) {
                best = i;
            }
        }
        if (best < 0) {
            throw new IllegalStateException("fw: every candidate was already picked");
        }
        return best;
    }

    /** {@code <g, w> / (||g|| ||w||)}, 0 when either is zero. */
    static double cosine(NDArray g, NDArray w) {
        double norms = Math.sqrt(dot(g, g) * dot(w, w));
        return norms == 0 ? 0 : dot(g, w) / norms;
    }

    private static double dot(NDArray a, NDArray b) {
        try (NDManager scope = a.getManager().newSubManager()) {
            NDArray d =
                    a.toType(DataType.FLOAT64, false).mul(b.toType(DataType.FLOAT64, false)).sum();
            d.attach(scope);
            return d.getDouble();
        }
    }

    /** Raw weights of pool member {@code c}: candidate c, or "initial" for the last index. */
    private NDArray pool(int c, String key, NDArray theta0, NDManager scope) throws IOException {
        return c < candidates.size()
                ? candidates.get(c).weights(key, theta0, scope)
                : initial.get(key, scope);
    }

    private String poolName(int c) {
        return c < candidates.size() ? candidates.get(c).name() : "initial";
    }

    /** A copy of the current iterate of {@code key} on the merge device. */
    private NDArray current(String key, NDManager scope) {
        for (ProxyObjective o : m.objectives) {
            if (o.keys().contains(key)) {
                NDArray copy =
                        o.weight(key)
                                .toDevice(scope.getDevice(), false)
                                .toType(DataType.FLOAT32, false)
                                .duplicate();
                copy.attach(scope);
                return copy;
            }
        }
        throw new IllegalStateException("No objective holds '" + key + "'");
    }

    private void setAll(String key, NDArray value) {
        for (ProxyObjective o : m.objectives) {
            if (o.keys().contains(key)) {
                o.setWeight(key, value);
            }
        }
    }

    private FwMerge.Iteration iteration(int t, double gamma, double loss, List<int[]> picks) {
        List<String> names = new ArrayList<>();
        Map<String, Integer> counts = new TreeMap<>();
        for (int[] pick : picks) {
            names.add(poolName(pick[0]));
            for (int c : pick) {
                counts.merge(poolName(c), 1, Integer::sum);
            }
        }
        return new FwMerge.Iteration(
                t,
                gamma,
                loss,
                names,
                m.granularity == FwMerge.Granularity.TENSOR ? counts : Map.of());
    }

    @Override
    public void close() throws IOException {
        try {
            initial.close();
            theta.close();
        } finally {
            root.close();
        }
    }

    /**
     * Mixing weights per tensor over the picked set, updated with Adam (torch.optim.Adam's
     * defaults: betas 0.9, 0.999, eps 1e-8, bias-corrected), optionally kept in [0, 1].
     */
    private static final class SoftWeights {
        private static final double BETA1 = 0.9;
        private static final double BETA2 = 0.999;
        private static final double EPS = 1e-8;
        final int[][] sets;
        final double[][] w;
        private final double[][] m1;
        private final double[][] m2;
        private final double lr;
        private final boolean clamp;
        private int step;

        /** Every weight starting at {@code start}, unclamped (FusionBench's AdaMerging). */
        static SoftWeights constant(int[][] sets, double start, double lr) {
            return new SoftWeights(sets, start, lr, false);
        }

        /** {@code lambda / |set|} each, kept in [0, 1] (the damped variant). */
        static SoftWeights split(int[][] sets, double lambda, double lr) {
            return new SoftWeights(sets, lambda, lr, true);
        }

        private SoftWeights(int[][] sets, double start, double lr, boolean clamp) {
            this.sets = sets;
            this.lr = lr;
            this.clamp = clamp;
            w = new double[sets.length][];
            m1 = new double[sets.length][];
            m2 = new double[sets.length][];
            for (int p = 0; p < sets.length; p++) {
                w[p] = new double[sets[p].length];
                Arrays.fill(w[p], clamp ? start / sets[p].length : start);
                m1[p] = new double[sets[p].length];
                m2[p] = new double[sets[p].length];
            }
        }

        void update(double[][] grad) {
            step++;
            for (int p = 0; p < w.length; p++) {
                for (int j = 0; j < w[p].length; j++) {
                    m1[p][j] = BETA1 * m1[p][j] + (1 - BETA1) * grad[p][j];
                    m2[p][j] = BETA2 * m2[p][j] + (1 - BETA2) * grad[p][j] * grad[p][j];
                    double mh = m1[p][j] / (1 - Math.pow(BETA1, step));
                    double vh = m2[p][j] / (1 - Math.pow(BETA2, step));
                    double next = w[p][j] - lr * mh / (Math.sqrt(vh) + EPS);
                    w[p][j] = clamp ? Math.min(1, Math.max(0, next)) : next;
                }
            }
        }
    }
}
