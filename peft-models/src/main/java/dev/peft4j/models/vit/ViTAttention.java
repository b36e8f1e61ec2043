package dev.peft4j.models.vit;

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
 * HF {@code ViTAttention}: children {@code attention} ({@code query}, {@code key}, {@code value})
 * and {@code output} ({@code dense}); the residual is added by the layer.
 */
public final class ViTAttention extends HfModule {

    private Block attention;
    private Block output;

    /**
     * Creates the attention of one layer.
     *
     * @param config the model config
     */
    public ViTAttention(ViTConfig config) {
        long h = config.hiddenSize();
        Shape hidden = new Shape(1, 1, h);
        attention =
                register(
                        "attention",
                        new SelfAttention(
                                h,
                                config.numAttentionHeads(),
                                config.qkvBias(),
                                config.attentionProbsDropoutProb()),
                        hidden);
        output =
                register(
                        "output",
                        new DenseResidual(h, h, config.hiddenDropoutProb(), null),
                        hidden);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray context = attention.forward(parameterStore, inputs, training, params).head();
        return new NDList(call(output, parameterStore, training, params, context));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
