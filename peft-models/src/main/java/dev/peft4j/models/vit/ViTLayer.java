package dev.peft4j.models.vit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.DenseResidual;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.Intermediate;
import dev.peft4j.models.nn.LayerNorm;

/**
 * HF {@code ViTLayer} (pre-norm): children {@code attention}, {@code intermediate}, {@code output},
 * {@code layernorm_before}, {@code layernorm_after}; {@code h = x + attention(ln_before(x))}, then
 * {@code h + output(intermediate(ln_after(h)))}.
 */
public final class ViTLayer extends HfModule {

    private Block attention;
    private Block intermediate;
    private Block output;
    private Block layernormBefore;
    private Block layernormAfter;

    /**
     * Creates one encoder layer.
     *
     * @param config the model config
     */
    public ViTLayer(ViTConfig config) {
        long h = config.hiddenSize();
        long i = config.intermediateSize();
        Shape hidden = new Shape(1, 1, h);
        attention = register("attention", new ViTAttention(config), hidden);
        intermediate = register("intermediate", new Intermediate(h, i, config.hiddenAct()), hidden);
        output =
                register(
                        "output",
                        new DenseResidual(i, h, config.hiddenDropoutProb(), null),
                        new Shape(1, 1, i));
        layernormBefore =
                register("layernorm_before", new LayerNorm(h, config.layerNormEps()), hidden);
        layernormAfter =
                register("layernorm_after", new LayerNorm(h, config.layerNormEps()), hidden);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray normed = call(layernormBefore, parameterStore, training, params, x);
        NDArray h = x.add(call(attention, parameterStore, training, params, normed));
        NDArray up =
                call(
                        intermediate,
                        parameterStore,
                        training,
                        params,
                        call(layernormAfter, parameterStore, training, params, h));
        return new NDList(call(output, parameterStore, training, params, up, h));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
