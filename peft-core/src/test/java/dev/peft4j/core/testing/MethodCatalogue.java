package dev.peft4j.core.testing;

import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.tree.BaseLayer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The one list of adapter methods (PEFT's {@code TEST_CASES}): every generic test (the adapter and
 * initializer matrices, the merge candidates, {@code peft inspect}), the MiniLM method test and the
 * benchmarks iterate it. A new method adds one {@link Entry} to {@link #all()}.
 *
 * <p>Configs are given as PEFT JSON options and read through the method's registered reader
 * ({@link AdapterMethods}), so this class needs no compile-time dependency on any method's module,
 * and every row also exercises its method's JSON reader. A row has up to two configs: {@code tiny}
 * for the tiny models of {@link TinyModels}, and {@code budget} for MiniLM-sized models at about
 * LoRA r 8's trainable budget (the examples and benchmarks).
 */
public final class MethodCatalogue {

    /** The module that registers a row's method (or, for an initializer, its {@code init_lora_weights} value). */
    public enum Module {
        /** {@code peft-adapters}. */
        ADAPTERS,
        /** {@code peft-init}. */
        INIT
    }

    /** Trainable parameters of one adapted layer, from the row's options, as methods.md states it. */
    @FunctionalInterface
    public interface LayerCount {
        /** Trainable elements of the adapter built from {@code options} on the layer at {@code path}. */
        long count(JsonObject options, String path, BaseLayer base);
    }

    /**
     * One method of the catalogue.
     *
     * @param name the row's name (also the examples' {@code --method} value)
     * @param module the module that provides it
     * @param peftType its {@code peft_type}
     * @param tiny its options for the tiny models given their target names, or null for none
     * @param budget its options on MiniLM-sized layers at about LoRA r 8's budget, or null
     * @param count the trainable count per adapted layer
     * @param keepsBase whether the base weights are unchanged when the adapter is created (PiSSA:
     *     no)
     * @param stepRatioTarget the benchmark's bound on its training step against LoRA's, or null
     *     where the ratio is only reported
     */
    public record Entry(
            String name,
            Module module,
            String peftType,
            Function<List<String>, JsonObject> tiny,
            JsonObject budget,
            LayerCount count,
            boolean keepsBase,
            Double stepRatioTarget) {

        /** The config for the tiny models, targeting {@code targets}. */
        public AdapterConfig tinyConfig(List<String> targets) {
            if (tiny == null) {
                throw new IllegalStateException(name + " has no tiny-model config");
            }
            return config(tiny.apply(targets), targets, new JsonObject());
        }

        /** The MiniLM-budget config targeting {@code targets}, with more shared keys from {@code extra}. */
        public AdapterConfig budgetConfig(List<String> targets, JsonObject extra) {
            if (budget == null) {
                throw new IllegalStateException(name + " has no budget config");
            }
            return config(budget, targets, extra);
        }

        /** The trainable count of the budget config on one layer. */
        public long budgetCount(String path, BaseLayer base) {
            return count.count(budget, path, base);
        }

        /** The trainable count of the tiny config on one layer of a model with these targets. */
        public long tinyCount(List<String> targets, String path, BaseLayer base) {
            return count.count(tiny.apply(targets), path, base);
        }

        private AdapterConfig config(JsonObject options, List<String> targets, JsonObject extra) {
            JsonObject json = options.deepCopy();
            extra.entrySet().forEach(e -> json.add(e.getKey(), e.getValue()));
            json.addProperty("peft_type", peftType);
            JsonArray t = new JsonArray();
            targets.forEach(t::add);
            json.add("target_modules", t);
            String source = "catalogue row " + name;
            List<String> unknown = new ArrayList<>();
            AdapterConfig config = AdapterMethods.parse(new ConfigJson(json, source), unknown);
            if (!unknown.isEmpty()) {
                throw new IllegalStateException(
                        source + ": keys its method does not read: " + unknown);
            }
            return config;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private MethodCatalogue() {}

    /** Every row, in table order. */
    public static List<Entry> all() {
        List<Entry> rows = new ArrayList<>();
        rows.add(
                new Entry(
                        "lora",
                        Module.ADAPTERS,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8}"),
                        json("{r: 8, lora_alpha: 16, lora_dropout: 0.05}"),
                        (o, path, base) -> rank(o, path) * (base.outFeatures() + base.inFeatures()),
                        true,
                        null));
        // LoRA with a bias on lora_B (PEFT's lora_bias): merging changes the base bias too
        rows.add(
                new Entry(
                        "lora-bias",
                        Module.ADAPTERS,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8, lora_bias: true}"),
                        null,
                        (o, path, base) ->
                                rank(o, path) * (base.outFeatures() + base.inFeatures())
                                        + base.outFeatures(),
                        true,
                        null));
        // DoRA (use_dora): a magnitude per output row; unchanged output at init (m = ||W||, B = 0)
        rows.add(
                new Entry(
                        "dora",
                        Module.ADAPTERS,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8, use_dora: true, lora_dropout: 0.1}"),
                        null,
                        (o, path, base) ->
                                rank(o, path) * (base.outFeatures() + base.inFeatures())
                                        + base.outFeatures(),
                        true,
                        null));
        rows.add(
                new Entry(
                        "lora-rslora-patterns",
                        Module.ADAPTERS,
                        "LORA",
                        t ->
                                json(
                                        "{r: 2, lora_alpha: 4, use_rslora: true, lora_dropout: 0.1,"
                                                + " rank_pattern: {'"
                                                + t.get(0)
                                                + "': 3}, alpha_pattern: {'"
                                                + t.get(0)
                                                + "': 7.5}}"),
                        null,
                        (o, path, base) -> rank(o, path) * (base.outFeatures() + base.inFeatures()),
                        true,
                        null));
        // NOLA: the count is k_A + k_B whatever the layer; chunks of 5 leave a partial last chunk
        rows.add(
                new Entry(
                        "nola",
                        Module.ADAPTERS,
                        "NOLA",
                        t ->
                                json(
                                        "{r: 3, lora_alpha: 6, num_basis_a: 12, num_basis_b: 7,"
                                                + " nola_seed: 3, basis_chunk: 5}"),
                        json(
                                "{r: 8, lora_alpha: 16, num_basis_a: 1024, num_basis_b: 1024,"
                                        + " nola_seed: 0}"),
                        (o, path, base) ->
                                o.get("num_basis_a").getAsLong() + o.get("num_basis_b").getAsLong(),
                        true,
                        1.5));
        // NOLA regenerating its bases chunk by chunk: each chunk is freed after use, while
        // autograd still holds it for backward
        rows.add(
                new Entry(
                        "nola-regenerate",
                        Module.ADAPTERS,
                        "NOLA",
                        t ->
                                json(
                                        "{r: 3, lora_alpha: 6, num_basis_a: 12, num_basis_b: 7,"
                                                + " nola_seed: 3, basis_chunk: 5,"
                                                + " regenerate_bases: true}"),
                        null,
                        (o, path, base) ->
                                o.get("num_basis_a").getAsLong() + o.get("num_basis_b").getAsLong(),
                        true,
                        null));
        // Bone: r = 5 divides no input width of the tiny models, so every layer has a zero-padded
        // tail block
        rows.add(
                new Entry(
                        "bone",
                        Module.ADAPTERS,
                        "MISS",
                        t -> json("{r: 5}"),
                        json("{r: 16}"),
                        (o, path, base) -> rank(o, path) * base.outFeatures(),
                        true,
                        1.5));
        // Bat builds W + dW at every step, so its step is reported, not bounded
        rows.add(
                new Entry(
                        "bat",
                        Module.ADAPTERS,
                        "MISS",
                        t -> json("{r: 4, init_weights: 'bat'}"),
                        json("{r: 16, init_weights: 'bat'}"),
                        (o, path, base) -> {
                            long r = rank(o, path);
                            return (base.outFeatures() / r) * r * r;
                        },
                        true,
                        null));
        rows.add(
                new Entry(
                        "flora",
                        Module.ADAPTERS,
                        "FLORA",
                        t -> json("{r: 3, scale: 2}"),
                        json("{r: 8}"),
                        (o, path, base) -> floraCount(base.weightShape(), (int) rank(o, path)),
                        true,
                        1.5));
        rows.add(
                new Entry(
                        "pego",
                        Module.ADAPTERS,
                        "PEGO",
                        t -> json("{r: 2, num_loras: 3}"),
                        json("{r: 4, num_loras: 2}"),
                        (o, path, base) ->
                                o.get("num_loras").getAsLong()
                                        * rank(o, path)
                                        * (base.outFeatures() + base.inFeatures()),
                        true,
                        1.5));
        // initializers of LoRA: only init_lora_weights (and what its paper requires) differs
        LayerCount lora =
                (o, path, base) -> rank(o, path) * (base.outFeatures() + base.inFeatures());
        // PiSSA: dropout 0 as in the paper (dropout on the principal part perturbs the pre-trained
        // function)
        rows.add(
                new Entry(
                        "pissa",
                        Module.INIT,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8, init_lora_weights: 'pissa'}"),
                        json("{r: 8, lora_alpha: 16, lora_dropout: 0, init_lora_weights: 'pissa'}"),
                        lora,
                        false,
                        null));
        rows.add(
                new Entry(
                        "pissa_niter_2",
                        Module.INIT,
                        "LORA",
                        t ->
                                json(
                                        "{r: 4, lora_alpha: 8, use_rslora: true,"
                                                + " init_lora_weights: 'pissa_niter_2'}"),
                        null,
                        lora,
                        false,
                        null));
        rows.add(
                new Entry(
                        "pissa_niter_4",
                        Module.INIT,
                        "LORA",
                        null,
                        json(
                                "{r: 8, lora_alpha: 16, lora_dropout: 0,"
                                        + " init_lora_weights: 'pissa_niter_4'}"),
                        lora,
                        false,
                        null));
        // OLoRA (QR of W; PEFT redoes it at load) and the orthogonal init (B A = 0, base kept)
        rows.add(
                new Entry(
                        "olora",
                        Module.INIT,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8, init_lora_weights: 'olora'}"),
                        null,
                        lora,
                        false,
                        null));
        rows.add(
                new Entry(
                        "orthogonal",
                        Module.INIT,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8, init_lora_weights: 'orthogonal'}"),
                        null,
                        lora,
                        true,
                        null));
        // LoRA-GA: PEFT's variant on the tiny row (plain alpha / r scaling); the budget row keeps
        // the authors' scale and rsLoRA, as docs/benchmarks.md measured it. B = 0 until its data
        // pass
        rows.add(
                new Entry(
                        "lora_ga",
                        Module.INIT,
                        "LORA",
                        t -> json("{r: 4, lora_alpha: 8, init_lora_weights: 'lora_ga'}"),
                        json(
                                "{r: 8, lora_alpha: 16, lora_dropout: 0.05, use_rslora: true,"
                                        + " init_lora_weights: 'lora_ga',"
                                        + " lora_ga_config: {direction: 'ArB2r', scale: 'paper',"
                                        + " stable_gamma: 16}}"),
                        lora,
                        true,
                        null));
        // EVA with its paper's options (PEFT's defaults); the tiny row keeps EVA's alpha 1, the
        // budget row LoRA's r 8 / alpha 16 so that only the initialization differs from LoRA's
        String eva =
                "eva_config: {rho: 2, tau: 0.99, use_label_mask: true, label_mask_value: -100,"
                        + " whiten: false, adjust_scaling_factors: true}";
        rows.add(
                new Entry(
                        "eva",
                        Module.INIT,
                        "LORA",
                        t -> json("{r: 3, lora_alpha: 1, init_lora_weights: 'eva', " + eva + "}"),
                        json(
                                "{r: 8, lora_alpha: 16, lora_dropout: 0.05, init_lora_weights:"
                                        + " 'eva', "
                                        + eva
                                        + "}"),
                        lora,
                        true,
                        null));
        return rows;
    }

    /** The rows of one module that have a tiny-model config. */
    public static List<Entry> tinyRows(Module module) {
        return all().stream().filter(e -> e.module() == module && e.tiny() != null).toList();
    }

    /** Every row that has a tiny-model config. */
    public static List<Entry> tinyRows() {
        return all().stream().filter(e -> e.tiny() != null).toList();
    }

    /** The rows with a MiniLM-budget config, in table order (LoRA first). */
    public static List<Entry> budgetRows() {
        return all().stream().filter(e -> e.budget() != null).toList();
    }

    /** A row by name; an error listing the names otherwise. */
    public static Entry byName(String name) {
        for (Entry e : all()) {
            if (e.name().equals(name)) {
                return e;
            }
        }
        throw new IllegalArgumentException(
                "Unknown method '"
                        + name
                        + "'; methods: "
                        + all().stream().map(Entry::name).toList());
    }

    /** The rank of a layer: {@code rank_pattern}'s entry for the path's end, else {@code r}. */
    private static long rank(JsonObject o, String path) {
        if (o.has("rank_pattern")) {
            for (var e : o.getAsJsonObject("rank_pattern").entrySet()) {
                if (path.equals(e.getKey()) || path.endsWith("." + e.getKey())) {
                    return e.getValue().getAsLong();
                }
            }
        }
        return o.get("r").getAsLong();
    }

    // methods.md: prod(r_i) + sum(dims_i r_i), modes [in / groups, out, kh, kw], kernel modes at
    // full rank
    private static long floraCount(Shape weight, int r) {
        long prod = (long) r * r;
        long sum = r * (weight.get(0) + weight.get(1));
        for (int k = 2; k < weight.dimension(); k++) {
            prod *= weight.get(k);
            sum += weight.get(k) * weight.get(k);
        }
        return prod + sum;
    }

    private static JsonObject json(String lenient) {
        return JsonParser.parseString(lenient).getAsJsonObject();
    }
}
