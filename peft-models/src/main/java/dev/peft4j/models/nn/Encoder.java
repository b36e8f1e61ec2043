package dev.peft4j.models.nn;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.List;

/**
 * HF {@code BertEncoder} / {@code ViTEncoder}: one child {@code layer}, a {@link ModuleList} run in
 * order. Inputs: hidden states and an optional mask bias passed to every layer.
 */
public final class Encoder extends HfModule {

    private Block layer;

    /**
     * Creates an encoder over the given layers.
     *
     * @param layers the layers, in order
     * @param hidden the hidden size
     */
    public Encoder(List<? extends Block> layers, long hidden) {
        Shape states = new Shape(1, 1, hidden);
        layer = register("layer", new ModuleList(layers, states), states);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        return layer.forward(parameterStore, inputs, training, params);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
