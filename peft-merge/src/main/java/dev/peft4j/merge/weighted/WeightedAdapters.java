package dev.peft4j.merge.weighted;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;
import dev.peft4j.core.tree.BaseLayer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * A new LoRA adapter that combines existing ones, as PEFT's {@code LoraModel.add_weighted_adapter}
 * (tuners/lora/model.py 602-937 at huggingface/peft 5d602fdb, with {@code utils/merge_utils.py}).
 *
 * <p>Each layer's new factors are computed from the adapters present on that layer:
 *
 * <ul>
 *   <li>{@code cat}: {@code A' = [w_1 s_1 A_1; w_2 s_2 A_2; ...]}, {@code B' = [B_1, B_2, ...]}:
 *       exactly {@code sum_i w_i s_i B_i A_i}, rank the sum of the ranks.
 *   <li>{@code linear}, {@code ties}, {@code dare_linear}, {@code dare_ties}, {@code
 *       magnitude_prune}: the combination applied to the A factors with weights {@code
 *       sign(w s) sqrt(|w s|)} and to the B factors with {@code sqrt(|w s|)} separately (PEFT's
 *       factor-space semantics: {@code linear} of two adapters has cross terms {@code B_1 A_2};
 *       use {@code cat} or {@code svd} for the exact weighted sum). Equal ranks on the layer.
 *   <li>{@code svd} and the {@code _svd} forms: the combination of the full changes {@code
 *       dW_i} (DoRA's included) with weights {@code w_i}, then its truncated SVD at {@code svd_rank}
 *       (default the layer's largest rank), {@code B' = U S}, {@code A' = V^T}, optionally clamped
 *       to the {@code svd_clamp} quantile of their entries.
 * </ul>
 *
 * <p>The new adapter has scaling 1 on every layer ({@code lora_alpha = r}, per-layer ranks in
 * {@code rank_pattern} / {@code alpha_pattern}, no rsLoRA, no DoRA). Where this differs from PEFT's
 * code, on purpose (reported bugs): ranks are per layer (PEFT takes one rank from {@code r} and
 * the largest {@code rank_pattern} value, so {@code linear} refuses and {@code svd} pads); rsLoRA
 * sources do not give an adapter scaled by {@code sqrt(r)} (PEFT copies {@code use_rslora}); the
 * {@code _svd} forms weight {@code dW_i}, which already holds {@code s_i}, by {@code w_i} (PEFT's
 * code multiplies by {@code w_i s_i}, model.py 835-841, so {@code s_i} counts twice); {@code
 * lora_bias} biases are combined as {@code sum w_i s_i b_i} by {@code cat}, {@code linear} and
 * {@code svd} (PEFT leaves the new bias at zero) and refused by the pruning forms; DoRA adapters
 * combine through the {@code _svd} forms (their change is not a product of the factors) and are
 * refused by the others; an existing name is an error (PEFT returns silently). With one adapter
 * the combination is {@code linear}, as PEFT's, so one adapter at weight 1 gives itself back.
 */
public final class WeightedAdapters {

    /** PEFT's {@code combination_type} values. */
    public enum Combination {
        SVD,
        LINEAR,
        CAT,
        TIES,
        TIES_SVD,
        DARE_LINEAR,
        DARE_TIES,
        DARE_LINEAR_SVD,
        DARE_TIES_SVD,
        MAGNITUDE_PRUNE,
        MAGNITUDE_PRUNE_SVD;

        /** The value as PEFT spells it ({@code "dare_ties_svd"}). */
        public String peftName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Parses PEFT's spelling; an unknown value names the valid ones. */
        public static Combination of(String peftName) {
            for (Combination c : values()) {
                if (c.peftName().equals(peftName)) {
                    return c;
                }
            }
            throw new IllegalArgumentException(
                    "combination_type '"
                            + peftName
                            + "' is unknown; use one of "
                            + Arrays.stream(values()).map(Combination::peftName).toList());
        }

        boolean svd() {
            return this == SVD || name().endsWith("_SVD");
        }

        /** The {@code merge_utils} function, without the {@code _svd} suffix. */
        Combination base() {
            return this == SVD ? LINEAR : svd() ? valueOf(name().replace("_SVD", "")) : this;
        }

        boolean needsDensity() {
            return base() != LINEAR && base() != CAT;
        }
    }

    /**
     * The options of {@code add_weighted_adapter}: {@code combination_type} (default {@code svd}),
     * {@code svd_rank}, {@code svd_clamp}, {@code density}, {@code majority_sign_method} (default
     * {@code total}), and the seed of DARE's random masks (PEFT draws them from torch's generator).
     */
    public record Options(
            Combination combination,
            Integer svdRank,
            Double svdClamp,
            Double density,
            String majoritySignMethod,
            long seed) {

        /** PEFT's defaults: {@code svd}, no rank, no clamp, no density, {@code total}, seed 0. */
        public static Options defaults() {
            return new Options(Combination.SVD, null, null, null, "total", 0);
        }

        /** These options with another combination. */
        public Options withCombination(Combination c) {
            return new Options(c, svdRank, svdClamp, density, majoritySignMethod, seed);
        }

        /** These options with a density. */
        public Options withDensity(double d) {
            return new Options(combination, svdRank, svdClamp, d, majoritySignMethod, seed);
        }

        /** These options with an SVD rank. */
        public Options withSvdRank(int rank) {
            return new Options(combination, rank, svdClamp, density, majoritySignMethod, seed);
        }

        /** These options with an SVD clamp quantile. */
        public Options withSvdClamp(double clamp) {
            return new Options(combination, svdRank, clamp, density, majoritySignMethod, seed);
        }

        /** These options with a majority sign method ({@code total} or {@code frequency}). */
        public Options withMajoritySignMethod(String method) {
            return new Options(combination, svdRank, svdClamp, density, method, seed);
        }

        /** These options with a seed for DARE's masks. */
        public Options withSeed(long s) {
            return new Options(combination, svdRank, svdClamp, density, majoritySignMethod, s);
        }
    }

    private WeightedAdapters() {}

    /** One source adapter on one layer. */
    private record Source(int index, LoraConfig config, Map<String, NDArray> tensors) {
        boolean embedding() {
            return tensors.containsKey("lora_embedding_A");
        }

        NDArray a() {
            return tensors.get(embedding() ? "lora_embedding_A" : "lora_A.weight");
        }

        NDArray b() {
            return tensors.get(embedding() ? "lora_embedding_B" : "lora_B.weight");
        }

        long rank() {
            return a().getShape().get(0);
        }
    }

    /**
     * Adds adapter {@code name} combining {@code adapters} with {@code weights} (any sign) and
     * returns its config; the active adapters do not change.
     *
     * @throws IllegalArgumentException naming the adapter, layer or option that cannot be combined
     */
    public static LoraConfig add(
            PeftModel pm,
            List<String> adapters,
            List<Double> weights,
            String name,
            Options options) {
        // with one adapter the combination is linear, as PEFT's
        Combination combination = adapters.size() == 1 ? Combination.LINEAR : options.combination();
        check(pm, adapters, weights, name, combination, options);
        NDManager root =
                pm.adapters(adapters.get(0))
                        .values()
                        .iterator()
                        .next()
                        .base()
                        .weight()
                        .getArray()
                        .getManager();
        try (NDManager scope = root.newSubManager()) {
            // the factors as views owned by the scope: every temporary of the combination goes
            // there (DJL attaches a result to its first operand's manager), not to the model's
            Map<String, List<Source>> layers = new LinkedHashMap<>();
            for (int i = 0; i < adapters.size(); i++) {
                LoraConfig config = (LoraConfig) pm.config(adapters.get(i));
                for (Map.Entry<String, Adapter> e : pm.adapters(adapters.get(i)).entrySet()) {
                    Map<String, NDArray> views = new LinkedHashMap<>();
                    e.getValue()
                            .stateDict()
                            .forEach((k, v) -> views.put(k, BaseLayer.passView(v, scope)));
                    layers.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                            .add(new Source(i, config, views));
                }
            }
            Map<String, Map<String, NDArray>> results = new LinkedHashMap<>();
            for (Map.Entry<String, List<Source>> layer : layers.entrySet()) {
                results.put(
                        layer.getKey(),
                        combine(
                                pm,
                                adapters,
                                layer.getKey(),
                                layer.getValue(),
                                weights,
                                combination,
                                options,
                                scope));
            }
            LoraConfig config = newConfig(pm, adapters, results);
            pm.addAdapter(name, config);
            Map<String, Adapter> created = pm.adapters(name);
            results.forEach(
                    (path, tensors) ->
                            created.get(path)
                                    .loadStateDict(tensors, "add_weighted_adapter " + name));
            return config;
        }
    }

    private static void check(
            PeftModel pm,
            List<String> adapters,
            List<Double> weights,
            String name,
            Combination c,
            Options o) {
        if (adapters.isEmpty() || adapters.size() != weights.size()) {
            throw new IllegalArgumentException(
                    "add_weighted_adapter needs one weight per adapter, got "
                            + adapters.size()
                            + " adapters and "
                            + weights.size()
                            + " weights");
        }
        if (pm.configs().containsKey(name)) {
            throw new IllegalArgumentException(
                    "An adapter named '"
                            + name
                            + "' already exists; delete it or pick another name");
        }
        if (c.needsDensity() && (o.density() == null || !(o.density() >= 0))) {
            throw new IllegalArgumentException(
                    "combination_type '"
                            + c.peftName()
                            + "' needs a density >= 0, got "
                            + o.density());
        }
        if (o.svdClamp() != null && !(o.svdClamp() >= 0 && o.svdClamp() <= 1)) {
            throw new IllegalArgumentException(
                    "svd_clamp must be a quantile in [0, 1], got " + o.svdClamp());
        }
        for (String a : adapters) {
            if (!pm.configs().containsKey(a)) {
                throw new IllegalArgumentException("Adapter '" + a + "' does not exist");
            }
            AdapterConfig config = pm.config(a);
            if (!(config instanceof LoraConfig lora)) {
                throw new IllegalArgumentException(
                        "add_weighted_adapter combines LoRA adapters; '"
                                + a
                                + "' is "
                                + config.peftType());
            }
            if (!config.modulesToSave().isEmpty()) {
                throw new IllegalArgumentException(
                        "Adapter '"
                                + a
                                + "' has modules_to_save "
                                + config.modulesToSave()
                                + ": add_weighted_adapter combines LoRA layers only (PEFT gives the"
                                + " new adapter untrained copies of those modules)");
            }
            if (lora.initChangesTheBase()) {
                throw new IllegalArgumentException(
                        "Adapter '"
                                + a
                                + "' was initialized with '"
                                + lora.initLoraWeights()
                                + "', which changed the base weights: its factors do not describe"
                                + " its change of the original model; save it converted"
                                + " (stateDictForOriginalBase) and combine the loaded result");
            }
            if (lora.useDora() && !c.svd()) {
                throw new IllegalArgumentException(
                        "Adapter '"
                                + a
                                + "' uses DoRA: its change is not a product of its factors, so"
                                + " combination_type '"
                                + c.peftName()
                                + "' cannot combine it; use svd or a _svd form");
            }
            if (lora.loraBias() && c.base() != Combination.LINEAR && c != Combination.CAT) {
                throw new IllegalArgumentException(
                        "Adapter '"
                                + a
                                + "' has lora_bias: combination_type '"
                                + c.peftName()
                                + "' has no rule for biases; use linear, cat or svd");
            }
        }
    }

    private static Map<String, NDArray> combine(
            PeftModel pm,
            List<String> names,
            String path,
            List<Source> sources,
            List<Double> weights,
            Combination c,
            Options o,
            NDManager scope) {
        boolean embedding = sources.get(0).embedding();
        String aKey = embedding ? "lora_embedding_A" : "lora_A.weight";
        String bKey = embedding ? "lora_embedding_B" : "lora_B.weight";
        int n = sources.size();
        double[] ws = new double[n];
        for (int i = 0; i < n; i++) {
            Source s = sources.get(i);
            ws[i] = weights.get(s.index()) * s.config().scalingFor(path);
        }
        Map<String, NDArray> out = new LinkedHashMap<>();
        if (c == Combination.CAT) {
            NDList as = new NDList();
            NDList bs = new NDList();
            for (int i = 0; i < n; i++) {
                as.add(sources.get(i).a().mul(ws[i]));
                bs.add(sources.get(i).b());
            }
            out.put(aKey, NDArrays.concat(as, 0));
            out.put(bKey, NDArrays.concat(bs, 1));
        } else if (!c.svd()) {
            long rank = sources.get(0).rank();
            for (Source s : sources) {
                if (s.rank() != rank) {
                    throw new IllegalArgumentException(
                            "combination_type '"
                                    + c.peftName()
                                    + "' needs equal ranks on layer '"
                                    + path
                                    + "': adapter '"
                                    + names.get(sources.get(0).index())
                                    + "' has "
                                    + rank
                                    + ", '"
                                    + names.get(s.index())
                                    + "' has "
                                    + s.rank()
                                    + "; use cat or svd");
                }
            }
            double[] wa = new double[n];
            double[] wb = new double[n];
            for (int i = 0; i < n; i++) {
                wb[i] = Math.sqrt(Math.abs(ws[i]));
                wa[i] = ws[i] >= 0 ? wb[i] : -wb[i];
            }
            List<NDArray> as = sources.stream().map(Source::a).toList();
            List<NDArray> bs = sources.stream().map(Source::b).toList();
            out.put(aKey, apply(c.base(), as, wa, o, random(o.seed(), path, "A", n)));
            out.put(bKey, apply(c.base(), bs, wb, o, random(o.seed(), path, "B", n)));
        } else {
            svd(pm, names, path, sources, weights, c, o, embedding, aKey, bKey, out, scope);
        }
        if (sources.stream().anyMatch(s -> s.config().loraBias())) {
            // sum_i w_i s_i b_i: the new adapter's scaling is 1
            NDArray bias = null;
            for (int i = 0; i < n; i++) {
                NDArray b = sources.get(i).tensors().get("lora_B.bias");
                if (b != null) {
                    bias = bias == null ? b.mul(ws[i]) : bias.add(b.mul(ws[i]));
                }
            }
            out.put("lora_B.bias", bias);
        }
        for (NDArray v : out.values()) {
            v.attach(scope);
        }
        return out;
    }

    private static void svd(
            PeftModel pm,
            List<String> names,
            String path,
            List<Source> sources,
            List<Double> weights,
            Combination c,
            Options o,
            boolean embedding,
            String aKey,
            String bKey,
            Map<String, NDArray> out,
            NDManager scope) {
        int n = sources.size();
        List<NDArray> deltas = new ArrayList<>();
        double[] w = new double[n];
        long maxRank = 0;
        for (int i = 0; i < n; i++) {
            Source s = sources.get(i);
            Adapter adapter = pm.adapters(names.get(s.index())).get(path);
            deltas.add(adapter.deltaWeight(scope).toType(DataType.FLOAT32, false));
            w[i] = weights.get(s.index());
            maxRank = Math.max(maxRank, s.rank());
        }
        NDArray delta = apply(c.base(), deltas, w, o, random(o.seed(), path, "delta", n));
        Shape shape = delta.getShape();
        NDArray matrix =
                embedding
                        ? delta.transpose()
                        : delta.reshape(shape.get(0), shape.size() / shape.get(0));
        long q = o.svdRank() == null ? maxRank : o.svdRank();
        long k = Math.min(matrix.getShape().get(0), matrix.getShape().get(1));
        if (q < 1 || q > k) {
            throw new IllegalArgumentException(
                    "svd_rank "
                            + q
                            + " does not fit layer '"
                            + path
                            + "' of change "
                            + matrix.getShape()
                            + ": it must be between 1 and "
                            + k);
        }
        try (SvdResult f = Linalg.svd(matrix, scope)) {
            NDArray u = f.u().get(":, :" + q).mul(f.s().get(":" + q).expandDims(0));
            NDArray vh = f.v().get(":, :" + q).transpose();
            if (o.svdClamp() != null) {
                double hi =
                        quantile(
                                NDArrays.concat(new NDList(u.flatten(), vh.flatten())),
                                o.svdClamp());
                u = u.clip(-hi, hi);
                vh = vh.clip(-hi, hi);
            }
            if (shape.dimension() == 4) {
                u = u.reshape(shape.get(0), q, 1, 1);
                vh = vh.reshape(new Shape(q).addAll(shape.slice(1)));
            }
            out.put(bKey, u.duplicate());
            out.put(aKey, vh.duplicate());
        }
    }

    /** {@code torch.quantile(x, q)} with its default linear interpolation. */
    private static double quantile(NDArray x, double q) {
        float[] v = x.toFloatArray();
        Arrays.sort(v);
        double pos = q * (v.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = (int) Math.ceil(pos);
        return v[lo] + (v[hi] - v[lo]) * (pos - lo);
    }

    private static NDArray apply(
            Combination base,
            List<NDArray> tensors,
            double[] w,
            Options o,
            SplittableRandom[] rnd) {
        switch (base) {
            case LINEAR:
                return PeftMergeUtils.taskArithmetic(tensors, w);
            case TIES:
                return PeftMergeUtils.ties(tensors, w, o.density(), o.majoritySignMethod());
            case DARE_LINEAR:
                return PeftMergeUtils.dareLinear(tensors, w, o.density(), rnd);
            case DARE_TIES:
                return PeftMergeUtils.dareTies(
                        tensors, w, o.density(), o.majoritySignMethod(), rnd);
            case MAGNITUDE_PRUNE:
                return PeftMergeUtils.magnitudePrune(tensors, w, o.density());
            default:
                throw new IllegalStateException("no merge_utils function for " + base);
        }
    }

    /** One generator per source tensor, from the seed, the layer and the factor: reproducible. */
    private static SplittableRandom[] random(long seed, String path, String part, int n) {
        SplittableRandom[] out = new SplittableRandom[n];
        long base = seed * 0x9E3779B97F4A7C15L + (path + "/" + part).hashCode();
        for (int i = 0; i < n; i++) {
            out[i] = new SplittableRandom(base + 31L * i);
        }
        return out;
    }

    /** Scaling 1 everywhere: {@code r = lora_alpha} = the largest rank, other ranks in the patterns. */
    private static LoraConfig newConfig(
            PeftModel pm, List<String> adapters, Map<String, Map<String, NDArray>> results) {
        Map<String, Long> ranks = new LinkedHashMap<>();
        boolean bias = false;
        for (Map.Entry<String, Map<String, NDArray>> e : results.entrySet()) {
            NDArray a =
                    e.getValue()
                            .getOrDefault("lora_A.weight", e.getValue().get("lora_embedding_A"));
            ranks.put(e.getKey(), a.getShape().get(0));
            bias |= e.getValue().containsKey("lora_B.bias");
        }
        long r = ranks.values().stream().mapToLong(Long::longValue).max().orElseThrow();
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        Map<String, Integer> alphaPattern = new LinkedHashMap<>();
        ranks.forEach(
                (path, rank) -> {
                    if (rank != r) {
                        String key = path.replace(".", "\\.");
                        rankPattern.put(key, rank.intValue());
                        alphaPattern.put(key, rank.intValue());
                    }
                });
        LoraConfig first = (LoraConfig) pm.config(adapters.get(0));
        return LoraConfig.builder()
                .optRank((int) r)
                .optAlpha(r)
                .optDropout(first.dropout())
                .optLoraBias(bias)
                .optRankPattern(rankPattern)
                .optAlphaPattern(alphaPattern)
                // exactly these layers: a full-match regex, as PEFT joins string targets
                .setTargetModules(
                        TargetModules.regex(
                                ranks.keySet().stream()
                                        .map(p -> p.replace(".", "\\."))
                                        .collect(Collectors.joining("|", "(", ")"))))
                .build();
    }
}
