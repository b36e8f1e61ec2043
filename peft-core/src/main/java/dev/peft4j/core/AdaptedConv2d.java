package dev.peft4j.core;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.tree.BaseLayer;

/**
 * A {@code Conv2d} with adapters; it is itself a {@code Conv2d} so fields typed {@code Conv2d}
 * can hold it, but its weight and bias are those of the wrapped layer (child {@code base_layer}).
 */
public final class AdaptedConv2d extends Conv2d implements AdaptedLayer {

    private final AdapterSlots slots;

    AdaptedConv2d(BaseLayer base, String path) {
        super(builderLike((Conv2d) base.block()));
        parameters.clear(); // the weight of the wrapped layer is the only one
        this.slots = new AdapterSlots(base, path, children);
        this.inputShapes = base.block().getInputShapes();
    }

    private static Conv2d.Builder builderLike(Conv2d conv) {
        return Conv2d.builder()
                .setKernelShape(conv.getKernelShape())
                .setFilters(conv.getFilters())
                .optStride(conv.getStride())
                .optPadding(conv.getPadding())
                .optDilation(conv.getDilation())
                .optGroups(conv.getGroups())
                .optBias(false);
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
    protected void prepare(Shape[] inputShapes) {
        // parameters belong to the wrapped layer
    }

    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        slots.initialize(manager, dataType, inputShapes);
    }

    @Override
    public String toString() {
        return "AdaptedConv2d(" + slots.path() + ", adapters=" + slots.adapters().keySet() + ")";
    }
}
