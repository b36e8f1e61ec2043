package dev.peft4j.adapters.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.SeededFill;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.Scalars;
import dev.peft4j.core.tree.BaseLayer;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A LoRA adapter on one Linear or Conv2d layer: {@code delta(x) = s * B (A dropout(x))}.
 *
 * <p>On a Conv2d {@code [out, in, kh, kw]} it is PEFT's {@code lora.Conv2d} (tuners/lora/layer.py
 * {@code _ConvNd.update_layer}): {@code A} is a convolution {@code [r, in, kh, kw]} with the base's
 * kernel, stride and padding, {@code B} a 1x1 convolution {@code [out, r, 1, 1]}; the weight change
 * is {@code s B A} over the flattened kernels ({@code get_delta_weight}), and DoRA's magnitude is
 * {@code [1, out, 1, 1]} (dora.py {@code _DoraConvNdLayer}).
 */
public final class LoraAdapter extends Adapter {

    private final int r;
    private final double alpha;
    private final double scaling;
    private final float dropout;
    private final Parameter a;
    private final Parameter b;
    private final Parameter bias;
    private final Parameter magnitude;
    private final BaseLayer.ConvLayer conv;
    private final LoraInitializer initializer;
    private final DoraMerge doraMerge;
    private final LoraConfig config;
    private final AdapterContext context;
    private Object initState;

    LoraAdapter(AdapterContext ctx, LoraConfig config) {
        super(ctx);
        String path = ctx.modulePath();
        this.r = config.rankFor(path);
        this.alpha = config.alphaFor(path);
        this.scaling = config.scalingFor(path);
        this.dropout = (float) config.dropout();
        int m = (int) base.outFeatures();
        int n = (int) base.inFeatures();
        DataType baseType = base.weight().getArray().getDataType();
        // PEFT's autocast_adapter_dtype (default true): float32 adapters over a half base
        DataType type = isHalf(baseType) ? DataType.FLOAT32 : baseType;
        NDManager mgr = ctx.manager();
        this.conv = base.kind() == BaseLayer.Kind.CONV2D ? (BaseLayer.ConvLayer) base : null;
        Shape aShape = new Shape(r, n);
        Shape bShape = new Shape(m, r);
        if (conv != null) {
            Shape w = base.weightShape();
            aShape = new Shape(r, w.get(1), w.get(2), w.get(3));
            bShape = new Shape(m, r, 1, 1);
        }
        this.a = trainable("lora_A.weight", mgr.zeros(aShape, type));
        this.b = trainable("lora_B.weight", mgr.zeros(bShape, type));
        this.bias =
                config.loraBias() ? trainable("lora_B.bias", mgr.zeros(new Shape(m), type)) : null;
        this.config = config;
        this.context = ctx;
        this.doraMerge = new DoraMerge(path);
        String init = config.initLoraWeights();
        this.initializer =
                ctx.forLoading() && !LoraInitializers.neededAtLoad(init)
                        ? LoraInitializers.find(init)
                        : LoraInitializers.builtIn(init) ? null : LoraInitializers.forName(init);
        if (!ctx.forLoading()) {
            initialize(config, ctx);
            if (isHalf(baseType)) {
                // PEFT creates the factors in the base's dtype
                // (_move_adapter_to_device_of_base_layer)
                // and only then casts them to float32: their values are the base dtype's
                for (Parameter p : getDirectParameters().values()) {
                    roundThrough(p.getArray(), baseType);
                }
            }
        }
        if (config.useDora()) {
            // PEFT's DoraLinearLayer.update_layer: ||W + s B A|| per output row, after the init
            NDArray m0 = mgr.zeros(conv == null ? new Shape(m) : new Shape(1, m, 1, 1), type);
            this.magnitude = trainable("lora_magnitude_vector", m0);
            if (!ctx.forLoading()) {
                try (NDManager scope = mgr.newSubManager()) {
                    NDArray dw = deltaWeight(scope, false);
                    NDArray w = base.weight().getArray().add(dw);
                    w.attach(scope);
                    NDArray norm = rowNorm(w.toType(type, false));
                    magnitude
                            .getArray()
                            .set(
                                    new NDIndex("..."),
                                    norm.toType(type, false)
                                            .reshape(magnitude.getArray().getShape()));
                    if (isHalf(baseType)) {
                        roundThrough(magnitude.getArray(), baseType);
                    }
                }
            }
        } else {
            this.magnitude = null;
        }
    }

    /** Whether a dtype is float16 or bfloat16. */
    static boolean isHalf(DataType t) {
        return t == DataType.FLOAT16 || t == DataType.BFLOAT16;
    }

    /** Rounds {@code a}'s values to {@code type} in place, keeping its own dtype. */
    static void roundThrough(NDArray a, DataType type) {
        try (NDArray rounded = a.toType(type, true);
                NDArray back = rounded.toType(a.getDataType(), true)) {
            a.set(new NDIndex("..."), back);
        }
    }

    /** Unit stride and dilation, and no padding, of LoRA's 1x1 {@code B} convolution. */
    private static final Shape UNIT = new Shape(1, 1);

    private static final Shape ZERO = new Shape(0, 0);

    /**
     * The L2 norm of each output row of {@code w}, {@code [out]}: PEFT's {@code
     * torch.linalg.norm(weight, dim=1)}, over all kernel dimensions for a Conv2d.
     */
    private static NDArray rowNorm(NDArray w) {
        NDArray rows = w.getShape().dimension() == 2 ? w : w.reshape(w.getShape().get(0), -1);
        return rows.square().sum(new int[] {1}).sqrt();
    }

    private void initialize(LoraConfig config, AdapterContext ctx) {
        String init = config.initLoraWeights();
        SplittableRandom rnd = new SplittableRandom(ctx.layerSeed(config.initSeed()));
        int n = (int) base.inFeatures();
        switch (init) {
            case "true":
                SeededFill.uniform(
                        a.getArray(), rnd, 1.0 / Math.sqrt(n)); // Kaiming-uniform, a = sqrt(5)
                break;
            case "gaussian":
                SeededFill.gaussian(a.getArray(), rnd, 1.0 / r); // PEFT: normal with std 1 / r
                break;
            case "false":
                // PEFT leaves nn.Linear's default init on both factors: a non-zero delta, for tests
                SeededFill.uniform(a.getArray(), rnd, 1.0 / Math.sqrt(n));
                SeededFill.uniform(b.getArray(), rnd, 1.0 / Math.sqrt(r));
                if (bias != null) {
                    SeededFill.uniform(bias.getArray(), rnd, 1.0 / Math.sqrt(r));
                }
                break;
            default:
                // custom initializers start from PEFT's default (EVA and LoRA-GA keep it until data
                // arrives)
                SeededFill.uniform(a.getArray(), rnd, 1.0 / Math.sqrt(n));
                initializer.initialize(this, config, ctx);
        }
    }

    /**
     * The change for input {@code x}: computed in the adapter's dtype (PEFT casts {@code x} to
     * lora_A's dtype), returned in x's.
     */
    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        DataType t = a.getArray().getDataType();
        if (x.getDataType() != t) {
            requireNotTraining(training, x.getDataType());
            return deltaSameType(ps, x.toType(t, false), training).toType(x.getDataType(), false);
        }
        return deltaSameType(ps, x, training);
    }

    private NDArray deltaSameType(ParameterStore ps, NDArray x, boolean training) {
        if (magnitude != null) {
            return dora(null, ps, x, training);
        }
        return up(
                scaledDown(ps, x, training),
                valueFor(ps, b, x, training),
                bias == null ? null : scaledBias(ps, x, training));
    }

    /** {@code A x}: a product, or the convolution with the base's kernel, stride and padding. */
    private NDArray down(NDArray x, NDArray av) {
        if (conv == null) {
            return Linear.linear(x, av).singletonOrThrow();
        }
        Conv2d c = conv.conv();
        return Conv2d.conv2d(x, av, null, c.getStride(), c.getPadding(), UNIT, 1)
                .singletonOrThrow();
    }

    /** {@code B h + offset}: a product, or a 1x1 convolution. */
    private NDArray up(NDArray h, NDArray bv, NDArray offset) {
        if (conv == null) {
            return (offset == null ? Linear.linear(h, bv) : Linear.linear(h, bv, offset))
                    .singletonOrThrow();
        }
        NDArray out = Conv2d.conv2d(h, bv, null, UNIT, ZERO, UNIT, 1).singletonOrThrow();
        return offset == null ? out : out.add(channels(offset));
    }

    /** A per-channel vector {@code [out]} shaped {@code [1, out, 1, 1]} to add to conv outputs. */
    private NDArray channels(NDArray v) {
        return conv == null || v.getShape().dimension() != 1 ? v : v.reshape(1, -1, 1, 1);
    }

    /**
     * {@code y + B (s A dropout(x))} (plus {@code s b} with {@code lora_bias}) with {@code y} as
     * the bias of the last product: no full-size extra pass.
     */
    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        DataType t = a.getArray().getDataType();
        if (y.getDataType() != t || x.getDataType() != t) {
            requireNotTraining(training, y.getDataType());
            // PEFT: result (base dtype) + adapter output (float32), then back to the base dtype
            return addToSameType(y.toType(t, false), ps, x.toType(t, false), training)
                    .toType(y.getDataType(), false);
        }
        return addToSameType(y, ps, x, training);
    }

    /**
     * Refuses a training forward through a dtype cast: DJL 0.36's {@code NDArray.toType} runs
     * under libtorch's {@code NoGradGuard} (its JNI {@code torchTo}), so the cast back to the
     * base's dtype would cut the adapter off from its gradients without a word.
     */
    private void requireNotTraining(boolean training, DataType baseType) {
        requireNotTraining(training, baseType, modulePath);
    }

    /** {@link #requireNotTraining(boolean, DataType)} for any LoRA layer of {@code module}. */
    static void requireNotTraining(boolean training, DataType baseType, String modulePath) {
        if (training) {
            throw new IllegalStateException(
                    "Cannot train the float32 adapter of module '"
                            + modulePath
                            + "' over its "
                            + baseType
                            + " base: DJL 0.36's toType is not differentiable (libtorch's"
                            + " NoGradGuard in its torchTo), so no gradient would reach the"
                            + " adapter. Load the base in float32 for training (peft4j's loaders do"
                            + " by default); inference and merging over a half base work");
        }
    }

    private NDArray addToSameType(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        if (magnitude != null) {
            return y.add(dora(y, ps, x, training));
        }
        if (conv != null) {
            return y.add(deltaSameType(ps, x, training));
        }
        NDArray offset = bias == null ? y : y.add(scaledBias(ps, x, training));
        return up(scaledDown(ps, x, training), valueFor(ps, b, x, training), offset);
    }

    /**
     * DoRA's extra output, as PEFT's {@code DoraLinearLayer.forward} (tuners/lora/dora.py): with
     * {@code n = ||W + s (B A).detach()||} per row, detached, and {@code c = m / n}: {@code (c - 1)
     * base + c s B A dropout(x)}, where {@code base} is the base output without bias ({@code y -
     * bias}) or, with dropout in training or without {@code y}, {@code W dropout(x)}.
     */
    private NDArray dora(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        NDArray av = valueFor(ps, a, x, training);
        NDArray bv = valueFor(ps, b, x, training);
        NDArray w = base.weightValue(ps, x, training).toType(av.getDataType(), false);
        NDArray loraWeight = product(bv.stopGradient(), av.stopGradient());
        NDArray norm = rowNorm(w.add(Scalars.mul(loraWeight, scaling))).stopGradient();
        NDArray c = channels(valueFor(ps, magnitude, x, training).reshape(-1).div(norm));
        boolean dropped = training && dropout > 0;
        NDArray in = dropped ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
        NDArray baseResult;
        if (dropped || y == null) {
            baseResult = base.apply(in, w);
        } else if (base.bias() != null) {
            baseResult =
                    y.sub(
                            channels(
                                    valueFor(ps, base.bias(), x, training)
                                            .toType(y.getDataType(), false)));
        } else {
            baseResult = y;
        }
        NDArray lora = up(down(in, av), bv, null);
        return baseResult.mul(c.sub(1)).add(Scalars.mul(lora.mul(c), scaling));
    }

    /** {@code s b}: PEFT scales lora_B's whole output, bias included. */
    private NDArray scaledBias(ParameterStore ps, NDArray x, boolean training) {
        return Scalars.mul(valueFor(ps, bias, x, training), scaling);
    }

    /** {@code s * A dropout(x)}: the scaling is applied to the small {@code [.., r]} activation. */
    private NDArray scaledDown(ParameterStore ps, NDArray x, boolean training) {
        NDArray in =
                training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
        return Scalars.mul(down(in, valueFor(ps, a, x, training)), scaling);
    }

    /**
     * The change of the base weight: {@code s B A}; with DoRA {@code c (W + s B A) - W}, {@code c
     * = m / ||W + s B A||} per row, for the current (unmerged) base weight W.
     */
    @Override
    public NDArray deltaWeight(NDManager manager) {
        return deltaWeight(manager, magnitude != null);
    }

    private NDArray deltaWeight(NDManager manager, boolean dora) {
        if (dora) {
            return DoraMerge.change(
                    base.weight().getArray(),
                    m -> deltaWeight(m, false),
                    merged -> doraFactor(rowNorm(merged)),
                    manager);
        }
        // views owned by the caller: nothing of the product is left on the model's manager
        NDArray product =
                product(
                        BaseLayer.passView(b.getArray(), manager),
                        BaseLayer.passView(a.getArray(), manager));
        NDArray dw = Scalars.mul(product, scaling);
        dw.attach(manager);
        return dw;
    }

    /**
     * DoRA merges as PEFT's {@code DoraLinearVariant.merge_safe}: {@code W <- c (W + s B A)},
     * keeping {@code c} for the unmerge ({@code W / c - s B A}), since the merged weight no longer
     * gives it; plain LoRA adds {@code s B A}.
     */
    @Override
    public void mergeInto(NDArray weight) {
        if (magnitude == null) {
            super.mergeInto(weight);
            return;
        }
        doraMerge.merge(
                weight,
                m -> deltaWeight(m, false),
                merged -> doraFactor(rowNorm(merged)),
                magnitude.getArray().getManager());
    }

    /**
     * {@code B A} shaped like the base weight: for a Conv2d {@code B [out, r] A [r, in kh kw]}
     * reshaped to {@code [out, in, kh, kw]} (PEFT's {@code get_delta_weight}: the 1x1 product, or
     * {@code conv2d(A^T, B)^T}, the same sums).
     */
    private NDArray product(NDArray bv, NDArray av) {
        if (conv == null) {
            return bv.matMul(av);
        }
        return bv.reshape(bv.getShape().get(0), r)
                .matMul(av.reshape(r, -1))
                .reshape(base.weightShape());
    }

    /** {@code m / n} shaped to scale the weight's output rows: {@code [out, 1]} or {@code [out, 1, 1, 1]}. */
    private NDArray doraFactor(NDArray norm) {
        NDArray factor = magnitude.getArray().reshape(-1).div(norm);
        return conv == null ? factor.reshape(-1, 1) : factor.reshape(-1, 1, 1, 1);
    }

    @Override
    public void unmergeFrom(NDArray weight) {
        if (magnitude == null) {
            super.unmergeFrom(weight);
            return;
        }
        doraMerge.unmerge(weight, m -> deltaWeight(m, false));
    }

    @Override
    public NDArray deltaBias(NDManager manager) {
        if (bias == null) {
            return null;
        }
        NDArray db = Scalars.mul(bias.getArray(), scaling);
        db.attach(manager);
        return db;
    }

    @Override
    public Map<String, NDArray> stateDictForOriginalBase(NDManager scope) {
        return initializer == null
                ? stateDict()
                : initializer.stateDictForOriginalBase(this, scope);
    }

    @Override
    public Map<String, String> checkpointMetadata() {
        return initializer == null ? Map.of() : initializer.checkpointMetadata(this);
    }

    @Override
    public void checkBeforeLoad(Map<String, String> metadata, String source) {
        if (initializer != null) {
            initializer.checkBeforeLoad(this, metadata, source);
        }
    }

    @Override
    public void verifyLoaded(Map<String, String> metadata, String source) {
        if (initializer != null) {
            initializer.verifyLoaded(this, metadata, source);
        }
    }

    /**
     * Whether this layer's initializer changed its base weight and its folder is meant for the
     * original base ({@link LoraInitializer#meantForOriginalBase}): its change against the original
     * weight is then {@link #stateDictForOriginalBase}'s plain LoRA, not {@code s B A}.
     */
    public boolean meantForOriginalBase() {
        return initializer != null && initializer.meantForOriginalBase(this);
    }

    /** The config this layer was created from. */
    public LoraConfig config() {
        return config;
    }

    /** The context this layer was created in (its module path, seed derivation, manager). */
    public AdapterContext context() {
        return context;
    }

    /**
     * State the initializer keeps with this adapter for its save and load hooks (PiSSA: the initial
     * factors and the fingerprint of the residual base weight), or null.
     */
    public <T> T initState(Class<T> type) {
        return type.isInstance(initState) ? type.cast(initState) : null;
    }

    /** Closes the initializer's state when it holds arrays (it is {@link AutoCloseable}). */
    @Override
    protected void releaseResources() {
        doraMerge.close();
        if (initState instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (Exception e) {
                throw new IllegalStateException("Cannot release the state of " + modulePath, e);
            }
        }
    }

    /** Sets the initializer's state (see {@link #initState}); an {@link AutoCloseable} one is closed on release. */
    public void setInitState(Object state) {
        this.initState = state;
    }

    /** The factor {@code A [r, in]} (lora_A). */
    public Parameter loraA() {
        return a;
    }

    /** The factor {@code B [out, r]} (lora_B). */
    public Parameter loraB() {
        return b;
    }

    /** The rank of this layer. */
    public int rank() {
        return r;
    }

    /** The alpha of this layer. */
    public double alpha() {
        return alpha;
    }

    /** The scaling {@code s} of this layer. */
    public double scaling() {
        return scaling;
    }
}
