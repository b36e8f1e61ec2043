package dev.peft4j.merge;

import dev.peft4j.merge.opcm.LinearWeights;
import dev.peft4j.merge.opcm.Opcm;
import dev.peft4j.merge.ta.TaskArithmetic;
import dev.peft4j.merge.ties.Ties;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds the streaming merge methods by name and options, for config files and command lines:
 * {@code task_arithmetic} (lambda), {@code average}, {@code ties} (k, lambda, merge_func mean | sum |
 * max, consensus sum | count), {@code opcm} (alpha, projection thin | full, shuffle SEED, projected
 * REGEX).
 * FW-Merging needs a proxy objective given in code ({@code dev.peft4j.merge.fw.FwMerge}).
 */
public final class MergeMethods {

    /** The method names this factory builds. */
    public static final List<String> NAMES = List.of("task_arithmetic", "average", "ties", "opcm");

    private static final Map<String, Set<String>> OPTIONS =
            Map.of(
                    "task_arithmetic", Set.of("lambda"),
                    "average", Set.of(),
                    "ties", Set.of("k", "lambda", "merge_func", "consensus", "normalize"),
                    "opcm", Set.of("alpha", "projection", "shuffle", "projected"));

    private MergeMethods() {}

    private static <E extends Enum<E>> E choice(Class<E> type, String value, String option) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(value)) {
                return e;
            }
        }
        List<String> known = new java.util.ArrayList<>();
        for (E e : type.getEnumConstants()) {
            known.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw new IllegalArgumentException(
                "option "
                        + option
                        + " '"
                        + value.toLowerCase(Locale.ROOT)
                        + "' is not one of "
                        + known);
    }

    /**
     * The method {@code name} with {@code options} (numbers; {@code merge_func} and {@code
     * consensus} are names); unknown names and options are errors listing the known ones.
     */
    public static MergeMethod create(String name, Map<String, ?> options) {
        return create(name, options, null);
    }

    /**
     * {@link #create(String, Map)} for a merge into the model in {@code baseFolder} (null:
     * unknown): OPCM then finds the Linear weights by the base's {@code model_type} ({@link
     * LinearWeights#forModel}) unless the {@code projected} option gives a regex.
     */
    public static MergeMethod create(String name, Map<String, ?> options, Path baseFolder) {
        return create(name, options, baseFolder, Map.of());
    }

    /**
     * {@link #create(String, Map, Path)} with per-candidate options by candidate name: {@code
     * weight} and {@code density}, read by TIES only.
     */
    public static MergeMethod create(
            String name,
            Map<String, ?> options,
            Path baseFolder,
            Map<String, Map<String, Double>> perCandidate) {
        String n = name.toLowerCase(Locale.ROOT).replace('-', '_');
        if (n.equals("fw") || n.equals("fw_merging") || n.equals("frank_wolfe")) {
            throw new IllegalArgumentException(
                    "method '"
                            + name
                            + "' needs a proxy objective (a model and a few examples) and is"
                            + " available from the library: dev.peft4j.merge.fw.FwMerge");
        }
        Set<String> known = OPTIONS.get(n);
        if (known == null) {
            throw new IllegalArgumentException(
                    "unknown merge method '" + name + "'; known methods: " + NAMES);
        }
        Map<String, Double> o = new LinkedHashMap<>();
        Map<String, String> names = new LinkedHashMap<>();
        options.forEach(
                (k, v) -> {
                    if (!known.contains(k)) {
                        throw new IllegalArgumentException(
                                "method "
                                        + n
                                        + " has no option '"
                                        + k
                                        + "'; its options: "
                                        + new TreeSet<>(known));
                    }
                    if (k.equals("merge_func") || k.equals("consensus") || k.equals("projection")) {
                        names.put(k, String.valueOf(v).toUpperCase(Locale.ROOT));
                    } else if (k.equals("projected")) {
                        names.put(k, String.valueOf(v));
                    } else if (v instanceof Boolean bool) {
                        o.put(k, bool ? 1.0 : 0.0);
                    } else if (v instanceof Number num) {
                        o.put(k, num.doubleValue());
                    } else {
                        throw new IllegalArgumentException(
                                "method " + n + ": option '" + k + "' must be a number, got " + v);
                    }
                });
        if (!perCandidate.isEmpty() && !n.equals("ties")) {
            throw new IllegalArgumentException(
                    "method "
                            + n
                            + " has no per-candidate weight or density (candidates "
                            + perCandidate.keySet()
                            + "); ties reads them");
        }
        switch (n) {
            case "task_arithmetic":
                return TaskArithmetic.builder()
                        .optLambda(o.getOrDefault("lambda", TaskArithmetic.DEFAULT_LAMBDA))
                        .build();
            case "average":
                return TaskArithmetic.builder().optAverage(true).build();
            case "ties":
                Map<String, Double> weights = new LinkedHashMap<>();
                Map<String, Double> densities = new LinkedHashMap<>();
                perCandidate.forEach(
                        (candidate, opts) -> {
                            if (opts.containsKey("weight")) {
                                weights.put(candidate, opts.get("weight"));
                            }
                            if (opts.containsKey("density")) {
                                densities.put(candidate, opts.get("density"));
                            }
                        });
                return Ties.builder()
                        .optWeights(weights)
                        .optDensities(densities)
                        .optNormalize(o.getOrDefault("normalize", 0.0) != 0)
                        .optK(o.getOrDefault("k", Ties.DEFAULT_K))
                        .optLambda(o.getOrDefault("lambda", Ties.DEFAULT_LAMBDA))
                        .optMergeFunc(
                                choice(
                                        Ties.MergeFunc.class,
                                        names.getOrDefault("merge_func", "MEAN"),
                                        "merge_func"))
                        .optConsensus(
                                choice(
                                        Ties.Consensus.class,
                                        names.getOrDefault("consensus", "SUM"),
                                        "consensus"))
                        .build();
            default:
                Opcm.Builder b =
                        Opcm.builder()
                                .optAlpha(o.getOrDefault("alpha", Opcm.DEFAULT_ALPHA))
                                .optProjection(
                                        choice(
                                                Opcm.ProjectionMode.class,
                                                names.getOrDefault("projection", "THIN"),
                                                "projection"));
                if (o.containsKey("shuffle")) {
                    b.optShuffle(o.get("shuffle").longValue());
                }
                if (names.containsKey("projected")) {
                    b.optProjected(LinearWeights.matching(names.get("projected")));
                } else if (baseFolder != null) {
                    try {
                        b.optProjected(LinearWeights.forModel(baseFolder));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
                return b.build();
        }
    }
}
