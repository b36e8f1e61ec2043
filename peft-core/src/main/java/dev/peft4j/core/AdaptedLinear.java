package dev.peft4j.core;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.tree.BaseLayer;

/**
 * A {@code Linear} with adapters; it is itself a {@code Linear} so fields typed {@code Linear}
 * can hold it, but its weight and bias are those of the wrapped layer (child {@code base_layer}).
 */
public final class AdaptedLinear extends Linear implements AdaptedLayer {

    private final AdapterSlots slots;

    AdaptedLinear(BaseLayer base, String path) {
        super(Linear.builder().setUnits(base.outFeatures()).optBias(false));
        parameters.clear(); // the weight of the wrapped layer is the only one
        this.slots = new AdapterSlots(base, path, children);
        this.inputShapes = base.block().getInputShapes();
    }

    @Override
    public AdapterSlots slots() {
        return slots;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return slots.forward(ps, inputs, training, params);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputs) {
        return slots.base().block().getOutputShapes(inputs);
    }

    @Override
    protected void beforeInitialize(Shape... inputShapes) {
        this.inputShapes = inputShapes;
    }

    @Override
    public void prepare(Shape[] inputShapes) {
        // parameters belong to the wrapped layer
    }

    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        slots.initialize(manager, dataType, inputShapes);
    }

    @Override
    public String toString() {
        return "AdaptedLinear(" + slots.path() + ", adapters=" + slots.adapters().keySet() + ")";
    }
}
