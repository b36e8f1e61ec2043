package dev.peft4j.core;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.core.tree.EmbeddingTable;

/**
 * A lookup table with adapters; it is itself an {@link EmbeddingTable}, and its table is that of
 * the wrapped layer (child {@code base_layer}). Fields typed {@code Block} hold it; a field typed
 * as the model's own embedding class cannot, which the injection reports naming the field.
 */
public final class AdaptedEmbedding extends AbstractBlock implements AdaptedLayer, EmbeddingTable {

    private final AdapterSlots slots;

    AdaptedEmbedding(BaseLayer base, String path) {
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
        return "AdaptedEmbedding(" + slots.path() + ", adapters=" + slots.adapters().keySet() + ")";
    }
}
