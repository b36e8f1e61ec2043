package dev.peft4j.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.DenseResidual;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.SelfAttention;

/**
 * HF {@code BertAttention}: children {@code self} ({@code query}, {@code key}, {@code value}) and
 * {@code output} ({@code dense}, {@code LayerNorm}); output {@code LayerNorm(dense(attn(x)) + x)}.
 */
public final class BertAttention extends HfModule {

    private Block self;
    private Block output;

    /**
     * Creates the attention block of one layer.
     *
     * @param config the model config
     */
    public BertAttention(BertConfig config) {
        long h = config.hiddenSize();
        Shape hidden = new Shape(1, 1, h);
        self =
                register(
                        "self",
                        new SelfAttention(
                                h,
                                config.numAttentionHeads(),
                                true,
                                config.attentionProbsDropoutProb()),
                        hidden);
        output =
                register(
                        "output",
                        new DenseResidual(h, h, config.hiddenDropoutProb(), config.layerNormEps()),
                        hidden);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray context = self.forward(parameterStore, inputs, training, params).head();
        return new NDList(call(output, parameterStore, training, params, context, inputs.head()));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
