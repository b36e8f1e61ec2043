package dev.peft4j.adapters.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.SeededFill;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.Scalars;
import java.util.Map;
import java.util.SplittableRandom;

/** A LoRA adapter on one Linear layer: {@code delta(x) = s * B (A dropout(x))}. */
public final class LoraAdapter extends Adapter {

    private final int r;
    private final double alpha;
    private final double scaling;
    private final float dropout;
    private final Parameter a;
    private final Parameter b;
    private final Parameter bias;
    private final LoraInitializer initializer;
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
        DataType type = base.weight().getArray().getDataType();
        NDManager mgr = ctx.manager();
        this.a = trainable("lora_A.weight", mgr.zeros(new Shape(r, n), type));
        this.b = trainable("lora_B.weight", mgr.zeros(new Shape(m, r), type));
        this.bias =
                config.loraBias() ? trainable("lora_B.bias", mgr.zeros(new Shape(m), type)) : null;
        this.config = config;
        this.context = ctx;
        String init = config.initLoraWeights();
        this.initializer =
                ctx.forLoading() && !LoraInitializers.neededAtLoad(init)
                        ? LoraInitializers.find(init)
                        : LoraInitializers.builtIn(init) ? null : LoraInitializers.forName(init);
        if (!ctx.forLoading()) {
            initialize(config, ctx);
        }
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

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        NDArray weight = ps.getValue(b, x.getDevice(), training);
        return (bias == null
                        ? Linear.linear(scaledDown(ps, x, training), weight)
                        : Linear.linear(
                                scaledDown(ps, x, training), weight, scaledBias(ps, x, training)))
                .singletonOrThrow();
    }

    /**
     * {@code y + B (s A dropout(x))} (plus {@code s b} with {@code lora_bias}) with {@code y} as
     * the bias of the last product: no full-size extra pass.
     */
    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        NDArray offset = bias == null ? y : y.add(scaledBias(ps, x, training));
        return Linear.linear(
                        scaledDown(ps, x, training),
                        ps.getValue(b, x.getDevice(), training),
                        offset)
                .singletonOrThrow();
    }

    /** {@code s b}: PEFT scales lora_B's whole output, bias included. */
    private NDArray scaledBias(ParameterStore ps, NDArray x, boolean training) {
        return Scalars.mul(ps.getValue(bias, x.getDevice(), training), scaling);
    }

    /** {@code s * A dropout(x)}: the scaling is applied to the small {@code [.., r]} activation. */
    private NDArray scaledDown(ParameterStore ps, NDArray x, boolean training) {
        NDArray in =
                training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
        return Scalars.mul(
                Linear.linear(in, ps.getValue(a, x.getDevice(), training)).singletonOrThrow(),
                scaling);
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        NDArray av = a.getArray();
        NDArray bv = b.getArray();
        NDArray product = bv.matMul(av);
        product.attach(manager); // not left on the model's manager
        NDArray dw = Scalars.mul(product, scaling);
        dw.attach(manager);
        return dw;
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
