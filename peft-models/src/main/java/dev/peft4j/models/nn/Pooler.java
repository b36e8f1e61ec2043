package dev.peft4j.models.nn;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** HF {@code BertPooler} / {@code ViTPooler}: {@code tanh(dense(h[:, 0]))}, child {@code dense}. */
public final class Pooler extends HfModule {

    private final long hidden;
    private Block dense;

    /**
     * Creates a pooler over the first token.
     *
     * @param hidden the hidden size
     */
    public Pooler(long hidden) {
        this.hidden = hidden;
        dense = linear("dense", hidden, hidden, true);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        return new NDList(
                Activation.tanh(
                        call(
                                dense,
                                parameterStore,
                                training,
                                params,
                                inputs.head().get(new NDIndex(":, 0")))));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), hidden)};
    }
}
