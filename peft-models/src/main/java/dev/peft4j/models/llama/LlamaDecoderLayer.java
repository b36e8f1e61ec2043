package dev.peft4j.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.RmsNorm;

/**
 * HF {@code LlamaDecoderLayer} (pre-norm): children {@code self_attn}, {@code mlp}, {@code
 * input_layernorm}, {@code post_attention_layernorm}. Inputs as {@link LlamaAttention}.
 */
public final class LlamaDecoderLayer extends HfModule {

    private Block selfAttn;
    private Block mlp;
    private Block inputLayernorm;
    private Block postAttentionLayernorm;

    /**
     * Creates one decoder layer.
     *
     * @param config the model config
     */
    public LlamaDecoderLayer(LlamaConfig config) {
        long h = config.hiddenSize();
        Shape hidden = new Shape(1, 1, h);
        selfAttn = register("self_attn", new LlamaAttention(config), hidden);
        mlp = register("mlp", new LlamaMlp(config), hidden);
        inputLayernorm = register("input_layernorm", new RmsNorm(h, config.rmsNormEps()), hidden);
        postAttentionLayernorm =
                register("post_attention_layernorm", new RmsNorm(h, config.rmsNormEps()), hidden);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDList attnInputs = new NDList(inputs);
        attnInputs.set(0, call(inputLayernorm, parameterStore, training, params, x));
        NDArray h = x.add(selfAttn.forward(parameterStore, attnInputs, training, params).head());
        NDArray normed = call(postAttentionLayernorm, parameterStore, training, params, h);
        return new NDList(h.add(call(mlp, parameterStore, training, params, normed)));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
