package dev.peft4j.models.nn;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** HF {@code BertIntermediate} / {@code ViTIntermediate}: child {@code dense}, then activation. */
public final class Intermediate extends HfModule {

    private final long size;
    private final String activation;
    private Block dense;

    /**
     * Creates the up-projection of a feed-forward block.
     *
     * @param hidden the hidden size
     * @param size the intermediate size
     * @param activation the HF {@code hidden_act} name
     */
    public Intermediate(long hidden, long size, String activation) {
        this.size = size;
        this.activation = Activations.check(activation, "hidden_act");
        dense = linear("dense", hidden, size, true);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        return new NDList(
                Activations.apply(
                        activation, call(dense, parameterStore, training, params, inputs.head())));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {in.slice(0, in.dimension() - 1).add(size)};
    }
}
