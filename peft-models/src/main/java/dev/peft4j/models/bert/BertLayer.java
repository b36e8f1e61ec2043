package dev.peft4j.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.DenseResidual;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.Intermediate;

/**
 * HF {@code BertLayer} (post-norm): children {@code attention} (a {@link BertAttention}), {@code
 * intermediate} and {@code output}. Inputs: hidden states and an optional mask bias.
 */
public final class BertLayer extends HfModule {

    private Block attention;
    private Block intermediate;
    private Block output;

    /**
     * Creates one encoder layer.
     *
     * @param config the model config
     */
    public BertLayer(BertConfig config) {
        long h = config.hiddenSize();
        long i = config.intermediateSize();
        Shape hidden = new Shape(1, 1, h);
        attention = register("attention", new BertAttention(config), hidden);
        intermediate = register("intermediate", new Intermediate(h, i, config.hiddenAct()), hidden);
        output =
                register(
                        "output",
                        new DenseResidual(i, h, config.hiddenDropoutProb(), config.layerNormEps()),
                        new Shape(1, 1, i));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray attended = attention.forward(parameterStore, inputs, training, params).head();
        NDArray up = call(intermediate, parameterStore, training, params, attended);
        return new NDList(call(output, parameterStore, training, params, up, attended));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
