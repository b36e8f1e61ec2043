package dev.peft4j.merge.mergekit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The merge methods of mergekit (merge_methods/registry.py), tensor by tensor, with mergekit's
 * parameter names and defaults. Each input is one model's tensor in mergekit's order: the {@code
 * models} of the config, then the base model when it is not among them (plan.py 116-156).
 */
enum MergekitMethod {
    LINEAR("linear", params("normalize", true), params("weight", null)),
    TASK_ARITHMETIC("task_arithmetic", gta(false, false), gtaTensor()),
    TIES("ties", gta(true, false), gtaTensor()),
    DARE_TIES("dare_ties", gta(false, true), gtaTensor()),
    DARE_LINEAR("dare_linear", gta(false, true), gtaTensor()),
    BREADCRUMBS("breadcrumbs", gta(false, false), gtaTensor("gamma", 0.01)),
    BREADCRUMBS_TIES("breadcrumbs_ties", gta(false, false), gtaTensor("gamma", 0.01)),
    DELLA("della", gta(true, true), gtaTensor("epsilon", 0.15)),
    DELLA_LINEAR("della_linear", gta(false, true), gtaTensor("epsilon", 0.15)),
    SLERP("slerp", params("t", null), params()),
    NUSLERP(
            "nuslerp",
            params("nuslerp_row_wise", false, "nuslerp_flatten", true),
            params("weight", null)),
    MODEL_STOCK("model_stock", params("filter_wise", false), params()),
    KARCHER("karcher", params("max_iter", 10.0, "tol", 1e-5), params()),
    PASSTHROUGH("passthrough", params(), params("scale", null));

    /** Loads one model's tensor (float32, rounded to the config's dtype) into a scope. */
    @FunctionalInterface
    interface Loader {
        NDArray load(NDManager scope) throws java.io.IOException;
    }

    /** One model's tensor, not loaded yet, and its evaluated tensor parameters. */
    record Lazy(String model, boolean isBase, Loader loader, Map<String, Object> params) {
        double number(String name) {
            return ((Number) params.get(name)).doubleValue();
        }
    }

    /** One model's tensor and its evaluated tensor parameters. */
    record Input(String model, boolean isBase, NDArray tensor, Map<String, Object> params) {
        double number(String name) {
            return ((Number) params.get(name)).doubleValue();
        }
    }

    final String peftName;

    /** Global parameters and their defaults (null: required). */
    final Map<String, Object> globals;

    /** Per-model parameters and their defaults (null: required for every model but the base). */
    final Map<String, Object> tensorParams;

    MergekitMethod(String name, Map<String, Object> globals, Map<String, Object> tensorParams) {
        this.peftName = name;
        this.globals = globals;
        this.tensorParams = tensorParams;
    }

    static MergekitMethod of(String name, String where) {
        for (MergekitMethod m : values()) {
            if (m.peftName.equals(name)) {
                return m;
            }
        }
        List<String> names = new ArrayList<>();
        for (MergekitMethod m : values()) {
            names.add(m.peftName);
        }
        throw new IllegalArgumentException(
                where + ": merge_method '" + name + "' is not implemented; known: " + names);
    }

    /** Whether the method reads the base model (generalized task arithmetic, slerp, model_stock). */
    boolean needsBase() {
        return isGta() || this == SLERP || this == MODEL_STOCK;
    }

    boolean isGta() {
        return ordinal() >= TASK_ARITHMETIC.ordinal() && ordinal() <= DELLA_LINEAR.ordinal();
    }

    /** Merges one tensor of a method that needs every model at once (not task arithmetic). */
    NDArray merge(String key, List<Input> inputs, Map<String, Object> g) {
        switch (this) {
            case LINEAR:
                return linear(key, inputs, (Boolean) g.get("normalize"));
            case SLERP:
                return slerp(key, inputs, ((Number) g.get("t")).doubleValue());
            case NUSLERP:
                return nuslerp(
                        key,
                        inputs,
                        (Boolean) g.get("nuslerp_row_wise"),
                        (Boolean) g.get("nuslerp_flatten"));
            case MODEL_STOCK:
                return modelStock(key, inputs, (Boolean) g.get("filter_wise"));
            case KARCHER:
                return Karcher.merge(
                        inputs.stream().map(Input::tensor).toList(),
                        ((Number) g.get("max_iter")).intValue(),
                        ((Number) g.get("tol")).doubleValue());
            case PASSTHROUGH:
                return passthrough(key, inputs);
            default:
                throw new IllegalStateException(
                        peftName + " streams its models: call gtaStreaming");
        }
    }

    /**
     * GeneralizedTaskArithmeticMerge (generalized_task_arithmetic.py 116-190) streaming over the
     * models so that memory does not grow with their number: pass 1 sums the weighted, sparsified
     * task vectors one model at a time; with a consensus, pass 2 recomputes each (the random masks
     * again from the same seeds) and sums the entries whose sign agrees with the sum's ({@code
     * get_mask(method="sum")}: the sign of the summed weighted deltas), and their weights. The same
     * sums as mergekit's stacked tensors, in another order of addition.
     */
    NDArray gtaStreaming(
            String key, List<Lazy> inputs, Map<String, Object> g, long[] seeds, NDManager scope)
            throws java.io.IOException {
        Lazy baseInput = null;
        for (Lazy in : inputs) {
            if (in.isBase()) {
                baseInput = in;
            }
        }
        if (baseInput == null) {
            throw new IllegalStateException("tensor '" + key + "': no base model input");
        }
        NDArray base = baseInput.loader().load(scope);
        boolean consensus =
                this == TIES || this == DARE_TIES || this == BREADCRUMBS_TIES || this == DELLA;
        NDArray sum = base.zerosLike();
        double weightSum = 0;
        int models = 0;
        for (int i = 0; i < inputs.size(); i++) {
            Lazy in = inputs.get(i);
            if (in.isBase()) {
                continue;
            }
            try (NDManager step = scope.newSubManager()) {
                sum.addi(weightedDelta(key, in, base, g, seeds[i], step));
            }
            weightSum += in.number("weight");
            models++;
        }
        if (models == 0) {
            return base;
        }
        NDArray mixed;
        NDArray divisor;
        if (consensus) {
            NDArray majority = sum.gte(0).toType(DataType.FLOAT32, false).mul(2).sub(1);
            mixed = base.zerosLike();
            divisor = base.zerosLike();
            for (int i = 0; i < inputs.size(); i++) {
                Lazy in = inputs.get(i);
                if (in.isBase()) {
                    continue;
                }
                try (NDManager step = scope.newSubManager()) {
                    NDArray e = weightedDelta(key, in, base, g, seeds[i], step);
                    NDArray mask = e.sign().eq(majority).toType(DataType.FLOAT32, false);
                    mixed.addi(e.mul(mask));
                    divisor.addi(mask.mul(in.number("weight")));
                }
            }
            divisor = divisor.add(divisor.eq(0).toType(DataType.FLOAT32, false));
        } else {
            mixed = sum;
            divisor =
                    base.getManager().create((float) (Math.abs(weightSum) < 1e-8 ? 1 : weightSum));
        }
        if ((Boolean) g.get("normalize")) {
            mixed = mixed.div(divisor);
        }
        double lambda = ((Number) g.get("lambda")).doubleValue();
        if (lambda != 1) {
            mixed = mixed.mul(lambda);
        }
        return base.add(mixed);
    }

    /** One model's sparsified task vector times its weight, on {@code step}. */
    private NDArray weightedDelta(
            String key, Lazy in, NDArray base, Map<String, Object> g, long seed, NDManager step)
            throws java.io.IOException {
        NDArray delta = in.loader().load(step).sub(base);
        boolean rescale = (Boolean) g.get("rescale");
        double density = in.number("density");
        String where = "tensor '" + key + "' of '" + in.model() + "'";
        SplittableRandom rnd = new SplittableRandom(seed);
        switch (this) {
            case TIES:
                delta = Sparsify.magnitude(delta, density, rescale, where);
                break;
            case DARE_TIES:
            case DARE_LINEAR:
                delta = Sparsify.bernoulli(delta, density, rescale, rnd);
                break;
            case BREADCRUMBS:
            case BREADCRUMBS_TIES:
                delta = Sparsify.magnitudeOutliers(delta, density, in.number("gamma"), rescale);
                break;
            case DELLA:
            case DELLA_LINEAR:
                delta =
                        Sparsify.dellaMagprune(
                                delta, density, in.number("epsilon"), rescale, rnd, where);
                break;
            default:
                break;
        }
        NDArray out = delta.mul(in.number("weight"));
        out.attach(step);
        return out;
    }

    private static NDArray baseOf(String key, List<Input> inputs) {
        for (Input in : inputs) {
            if (in.isBase()) {
                return in.tensor();
            }
        }
        throw new IllegalStateException("tensor '" + key + "': no base model input");
    }

    /** LinearMergeTask (linear.py 27-52): {@code sum w x}, divided by {@code sum w} with normalize. */
    private static NDArray linear(String key, List<Input> inputs, boolean normalize) {
        NDArray sum = null;
        double total = 0;
        for (Input in : inputs) {
            double w = weight(key, in);
            total += w;
            NDArray term = in.tensor().mul(w);
            sum = sum == null ? term : sum.add(term);
        }
        if (normalize) {
            if (total == 0) {
                throw new IllegalArgumentException(
                        "tensor '" + key + "': linear with normalize: the weights sum to 0");
            }
            sum = sum.div(total);
        }
        return sum;
    }

    private static double weight(String key, Input in) {
        Object w = in.params().get("weight");
        if (w == null) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + key
                            + "': model '"
                            + in.model()
                            + "' has no weight (parameters.weight)");
        }
        return ((Number) w).doubleValue();
    }

    /** SlerpTask (slerp.py 28-51, slerp 90-145): the base and one other model. */
    private static NDArray slerp(String key, List<Input> inputs, double t) {
        if (inputs.size() == 1) {
            return inputs.get(0).tensor();
        }
        if (inputs.size() != 2) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + key
                            + "': slerp merges exactly two models (the base and one other), got "
                            + inputs.size());
        }
        Input a = inputs.get(0).isBase() ? inputs.get(0) : inputs.get(1);
        Input b = inputs.get(0).isBase() ? inputs.get(1) : inputs.get(0);
        if (!a.isBase()) {
            throw new IllegalArgumentException(
                    "tensor '" + key + "': slerp needs the base model among its two models");
        }
        NDArray v0 = a.tensor();
        NDArray v1 = b.tensor();
        double eps = 1e-8;
        double n0 = norm(v0);
        double n1 = norm(v1);
        NDArray u0 = n0 > eps ? v0.div(n0) : v0;
        NDArray u1 = n1 > eps ? v1.div(n1) : v1;
        double dot = u0.mul(u1).sum().getFloat();
        if (Math.abs(dot) > 0.9995) {
            return v0.mul(1 - t).add(v1.mul(t));
        }
        double theta0 = Math.acos(dot);
        double sin0 = Math.sin(theta0);
        double thetaT = theta0 * t;
        double s0 = Math.sin(theta0 - thetaT) / sin0;
        double s1 = Math.sin(thetaT) / sin0;
        return v0.mul(s0).add(v1.mul(s1));
    }

    private static double norm(NDArray v) {
        return Math.sqrt(v.toType(DataType.FLOAT64, false).square().sum().getDouble());
    }

    /** NuSlerpTask (nuslerp.py 29-80, nuslerp 110-150). */
    private static NDArray nuslerp(
            String key, List<Input> inputs, boolean rowWise, boolean flatten) {
        if (inputs.size() == 1) {
            return inputs.get(0).tensor();
        }
        NDArray base = null;
        List<Input> others = new ArrayList<>();
        for (Input in : inputs) {
            if (in.isBase()) {
                base = in.tensor();
            } else {
                others.add(in);
            }
        }
        if (others.size() != 2) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + key
                            + "': nuslerp merges exactly two models (plus an optional base model),"
                            + " got "
                            + others.size());
        }
        double w0 = weight(key, others.get(0));
        double w1 = weight(key, others.get(1));
        double t = Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
        NDArray v0 = others.get(0).tensor();
        NDArray v1 = others.get(1).tensor();
        if (base != null) {
            return base.add(nuslerp(t, v0.sub(base), v1.sub(base), rowWise ? 0 : -1, flatten));
        }
        return nuslerp(t, v0, v1, rowWise ? 0 : -1, flatten);
    }

    private static NDArray nuslerp(double t, NDArray v0, NDArray v1, int dim, boolean flatten) {
        var shape = v0.getShape();
        int last = shape.dimension() - 1;
        boolean swap = !flatten && dim != -1 && last > 0;
        if (flatten) {
            v0 = v0.reshape(1, -1);
            v1 = v1.reshape(1, -1);
        } else if (swap) {
            v0 = v0.swapAxes(dim, last);
            v1 = v1.swapAxes(dim, last);
        }
        NDArray u0 = v0.div(v0.norm(new int[] {-1}, true).maximum(1e-7f));
        NDArray u1 = v1.div(v1.norm(new int[] {-1}, true).maximum(1e-7f));
        NDArray cos = u0.mul(u1).sum(new int[] {-1}, true);
        NDArray theta = cos.clip(-1, 1).acos();
        NDArray sin = theta.sin();
        NDArray res = theta.mul(1 - t).sin().mul(v0).add(theta.mul(t).sin().mul(v1)).div(sin);
        NDArray colinear = sin.abs().lt(1e-8f);
        NDArray lerp = v0.mul(1 - t).add(v1.mul(t));
        res = NDArrays.where(colinear.broadcast(res.getShape()), lerp, res);
        if (swap) {
            res = res.swapAxes(dim, last);
        }
        return res.reshape(shape);
    }

    /** ModelStockMergeTask (model_stock.py 28-90). */
    private static NDArray modelStock(String key, List<Input> inputs, boolean filterWise) {
        NDArray w0 = baseOf(key, inputs);
        List<NDArray> ws = new ArrayList<>();
        for (Input in : inputs) {
            if (!in.isBase()) {
                ws.add(in.tensor());
            }
        }
        if (ws.isEmpty()) {
            return w0;
        }
        if (ws.size() < 2) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + key
                            + "': model_stock needs at least 3 models (the base and two or more"
                            + " others)");
        }
        var outShape = w0.getShape();
        if (filterWise) {
            if (outShape.dimension() == 1) {
                w0 = w0.expandDims(0);
                ws = ws.stream().map(w -> w.expandDims(0)).toList();
            }
        } else {
            w0 = w0.flatten();
            ws = ws.stream().map(NDArray::flatten).toList();
        }
        NDArray base = w0;
        List<NDArray> offsets = ws.stream().map(w -> w.sub(base)).toList();
        NDArray cosSum = null;
        int pairs = 0;
        for (int i = 0; i < offsets.size(); i++) {
            for (int j = i + 1; j < offsets.size(); j++) {
                NDArray a = offsets.get(i);
                NDArray b = offsets.get(j);
                NDArray normProduct = a.norm(new int[] {-1}).mul(b.norm(new int[] {-1}));
                NDArray cos =
                        a.mul(b).sum(new int[] {-1}).div(normProduct.maximum(1e-6f)).clip(-1, 1);
                cosSum = cosSum == null ? cos : cosSum.add(cos);
                pairs++;
            }
        }
        NDArray cos = cosSum.div(pairs).expandDims(-1);
        int n = ws.size();
        NDArray t = cos.mul(n).div(cos.mul(n - 1).add(1));
        NDArray avg = ws.get(0);
        for (int i = 1; i < n; i++) {
            avg = avg.add(ws.get(i));
        }
        avg = avg.div(n);
        return t.mul(avg).add(t.neg().add(1).mul(w0)).reshape(outShape);
    }

    /** PassthroughMergeTask (passthrough.py 20-33): one model's tensor, times {@code scale} when given. */
    private static NDArray passthrough(String key, List<Input> inputs) {
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + key
                            + "': passthrough takes exactly one model, got "
                            + inputs.size());
        }
        Object scale = inputs.get(0).params().get("scale");
        NDArray x = inputs.get(0).tensor();
        return scale == null ? x : x.mul(((Number) scale).doubleValue());
    }

    private static Map<String, Object> gta(boolean normalize, boolean rescale) {
        return params(
                "int8_mask", false, "normalize", normalize, "rescale", rescale, "lambda", 1.0);
    }

    private static Map<String, Object> gtaTensor(Object... extra) {
        Map<String, Object> m = params("weight", null, "density", 1.0);
        m.putAll(params(extra));
        return m;
    }

    private static Map<String, Object> params(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
