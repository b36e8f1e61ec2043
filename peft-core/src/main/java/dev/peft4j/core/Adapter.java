package dev.peft4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.tree.BaseLayer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One adapter of one method on one base layer: PEFT's per-layer state for one adapter name.
 *
 * <p>An adapter is a DJL block whose parameters are its trainable weights, named by their
 * checkpoint key relative to the module ({@code lora_A.weight}), so DJL's trainer, freezing and
 * parameter listing see them. Its output is what it adds to the base layer's output; merging adds
 * {@link #deltaWeight} to the base weight. Methods override what differs (NOLA saves coefficients
 * rather than parameters, Bat unmerges by inversion).
 */
public abstract class Adapter extends AbstractBlock {

    /** The layer this adapter is attached to. */
    protected final BaseLayer base;

    /** The module path of the base layer, for messages. */
    protected final String modulePath;

    /** Creates an adapter on a base layer. */
    protected Adapter(AdapterContext context) {
        this.base = context.base();
        this.modulePath = context.modulePath();
    }

    /** The output this adapter adds to the base layer's output for input {@code x}. */
    public abstract NDArray delta(ParameterStore ps, NDArray x, boolean training);

    /**
     * The base output {@code y} plus this adapter's contribution; methods override it to fuse the
     * addition into their last operation (LoRA passes {@code y} as the bias of its second product).
     */
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        return y.add(delta(ps, x, training));
    }

    /** The change of the base weight, shaped like it; arrays attached to {@code manager}. */
    public abstract NDArray deltaWeight(NDManager manager);

    /** Adds this adapter's change to the base weight, in place; refuses a non-finite change. */
    public void mergeInto(NDArray weight) {
        try (NDManager scope = weight.getManager().newSubManager()) {
            NDArray delta = deltaWeight(scope);
            requireFinite(delta, "merge");
            addInPlace(weight, delta, scope, 1);
        }
    }

    /**
     * {@code weight += sign * delta}; a delta of another dtype (a float32 adapter over a half
     * base) is added in the delta's dtype and rounded once, as PyTorch's in-place add does.
     */
    private static void addInPlace(NDArray weight, NDArray delta, NDManager scope, int sign) {
        if (delta.getDataType() == weight.getDataType()) {
            if (sign > 0) {
                weight.addi(delta);
            } else {
                weight.subi(delta);
            }
            return;
        }
        NDArray wide = weight.toType(delta.getDataType(), true);
        wide.attach(scope);
        NDArray sum = sign > 0 ? wide.add(delta) : wide.sub(delta);
        sum.attach(scope);
        NDArray rounded = sum.toType(weight.getDataType(), false);
        rounded.attach(scope);
        weight.set(new NDIndex("..."), rounded);
    }

    /**
     * The change of the base layer's bias, attached to {@code manager}, or null when the adapter
     * leaves the bias alone (all but LoRA with {@code lora_bias}).
     */
    public NDArray deltaBias(NDManager manager) {
        return null;
    }

    /**
     * Adds this adapter's change to the base layer's weight and, when it has one, bias, in place;
     * refuses a non-finite change, or a bias change on a layer without bias, before changing
     * anything.
     */
    public void mergeInto(BaseLayer layer) {
        applyTo(layer, true);
    }

    /** Removes this adapter's change from the (merged) base layer's weight and bias, in place. */
    public void unmergeFrom(BaseLayer layer) {
        applyTo(layer, false);
    }

    private void applyTo(BaseLayer layer, boolean add) {
        try (NDManager scope = layer.weight().getArray().getManager().newSubManager()) {
            NDArray db = deltaBias(scope);
            if (db != null) {
                if (layer.bias() == null) {
                    throw new IllegalStateException(
                            "Cannot merge the adapter of module '"
                                    + modulePath
                                    + "': it changes the bias (lora_bias) but the base layer has"
                                    + " no bias");
                }
                requireFinite(db, "merge");
            }
            if (add) {
                mergeInto(layer.weight().getArray());
            } else {
                unmergeFrom(layer.weight().getArray());
            }
            if (db != null) {
                addInPlace(layer.bias().getArray(), db, scope, add ? 1 : -1);
            }
        }
    }

    /** Removes this adapter's change from the (merged) base weight, in place. */
    public void unmergeFrom(NDArray weight) {
        try (NDManager scope = weight.getManager().newSubManager()) {
            addInPlace(weight, deltaWeight(scope), scope, -1);
        }
    }

    /** The tensors saved in a checkpoint, by key relative to the module; by default the parameters. */
    public Map<String, NDArray> stateDict() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Parameter p : getDirectParameters().values()) {
            out.put(p.getName(), p.getArray());
        }
        return out;
    }

    /**
     * Copies checkpoint tensors into this adapter; each key of {@link #stateDict()} must be present
     * with the same shape. {@code source} names the file for error messages.
     */
    public void loadStateDict(Map<String, NDArray> tensors, String source) {
        for (Map.Entry<String, NDArray> e : stateDict().entrySet()) {
            NDArray value = tensors.get(e.getKey());
            if (value == null) {
                throw new IllegalArgumentException(
                        source
                                + ": missing tensor '"
                                + e.getKey()
                                + "' for module '"
                                + modulePath
                                + "'");
            }
            copyInto(e.getValue(), value, source, e.getKey());
        }
    }

    /** Copies {@code value} into {@code target} in place after checking shape and finiteness. */
    protected void copyInto(NDArray target, NDArray value, String source, String key) {
        if (!target.getShape().equals(value.getShape())) {
            throw new IllegalArgumentException(
                    source
                            + ": tensor '"
                            + key
                            + "' of module '"
                            + modulePath
                            + "' has shape "
                            + value.getShape()
                            + ", expected "
                            + target.getShape());
        }
        if (!Finiteness.isFinite(value)) {
            throw new IllegalArgumentException(
                    source
                            + ": tensor '"
                            + key
                            + "' of module '"
                            + modulePath
                            + "' contains NaN or Inf");
        }
        target.set(new NDIndex("..."), value.toType(target.getDataType(), false));
    }

    /**
     * The tensors to save so that the file applies to the original base weights, for adapters whose
     * initialization changed the base (PiSSA, LoRA-GA convert themselves to plain LoRA); by default
     * {@link #stateDict()}. New arrays are attached to {@code scope}.
     */
    public Map<String, NDArray> stateDictForOriginalBase(NDManager scope) {
        return stateDict();
    }

    /**
     * Entries saved in the checkpoint's safetensors metadata for this module, by key relative to it
     * (a fingerprint of a base weight the adapter's initialization changed); by default none.
     */
    public Map<String, String> checkpointMetadata() {
        return Map.of();
    }

    /**
     * Called before any tensor of a checkpoint is loaded, for every module of the adapter, with the
     * file's metadata entries of this module; throws when the base layer is not the one the
     * checkpoint was written for. It must not change anything, so that a refused load leaves the
     * model as it was. By default every base is accepted.
     */
    public void checkBeforeLoad(Map<String, String> metadata, String source) {
        // nothing to check for adapters that leave the base weight alone
    }

    /**
     * Called after a checkpoint was loaded into every module of the adapter, with the file's
     * metadata entries of this module: may throw like {@link #checkBeforeLoad}, or finish the load
     * (PiSSA redoes its decomposition of the base weight here, as PEFT does at load). By default
     * every base is accepted.
     */
    public void verifyLoaded(Map<String, String> metadata, String source) {
        // nothing to check for adapters that leave the base weight alone
    }

    /** Number of trainable parameters (elements) of this adapter. */
    public long trainableParameterCount() {
        long n = 0;
        for (Parameter p : getDirectParameters().values()) {
            if (p.requiresGradient()) {
                n += p.getArray().getShape().size();
            }
        }
        return n;
    }

    /** Makes this adapter's parameters trainable (true) or frozen; methods with frozen parts override. */
    public void setTrainable(boolean trainable) {
        for (Parameter p : getDirectParameters().values()) {
            p.freeze(!trainable);
        }
    }

    /** Creates, registers and returns a trainable parameter holding {@code init}. */
    protected final Parameter trainable(String name, NDArray init) {
        Parameter p =
                Parameter.builder()
                        .setName(name)
                        .setType(Parameter.Type.WEIGHT)
                        .optArray(init)
                        .build();
        init.setName(name);
        addParameter(p);
        p.freeze(false);
        return p;
    }

    /**
     * Frees every array this adapter allocated: its parameters and, through {@link
     * #releaseResources()}, whatever else it holds (frozen bases, initialization state). Called
     * when the adapter is deleted or the model unloaded; the adapter is unusable afterwards.
     */
    public final void release() {
        getDirectParameters().values().forEach(Parameter::close);
        releaseResources();
    }

    /** Frees the arrays this adapter holds besides its parameters; the default holds none. */
    protected void releaseResources() {}

    /**
     * A parameter's value for one forward pass, as a view owned by {@code x}'s manager. DJL attaches
     * the result of an operation to its first operand's manager: {@code a.transpose()} or {@code
     * m.div(n)} on the parameter itself would leave arrays on the model's manager at every step.
     * The view carries the gradient to the parameter.
     */
    protected final NDArray valueFor(
            ParameterStore ps, Parameter parameter, NDArray x, boolean training) {
        return BaseLayer.passView(ps.getValue(parameter, x.getDevice(), training), x);
    }

    /** Throws when an array holds NaN or Inf, naming this adapter's module. */
    protected final void requireFinite(NDArray array, String what) {
        if (!Finiteness.isFinite(array)) {
            throw new IllegalStateException(
                    "Refusing to "
                            + what
                            + " the adapter of module '"
                            + modulePath
                            + "': its weight change contains NaN or Inf");
        }
    }

    /** The module path of the base layer. */
    public String modulePath() {
        return modulePath;
    }

    /** The base layer. */
    public BaseLayer base() {
        return base;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(delta(ps, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return base.block().getOutputShapes(inputShapes);
    }

    @Override
    public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
        beforeInitialize(inputShapes);
        for (Parameter p : getDirectParameters().values()) {
            p.initialize(manager, dataType);
        }
    }
}
