package dev.peft4j.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.Attention;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code LlamaAttention}: children {@code q_proj}, {@code k_proj}, {@code v_proj}, {@code
 * o_proj}; RoPE on queries and keys; grouped-query attention when there are fewer key/value heads
 * than query heads (each key/value head serves {@code heads / kvHeads} consecutive query heads).
 *
 * <p>Inputs: hidden states {@code [B, T, H]}, {@code cos}, {@code sin} ({@code [B, 1, T, D]}) and
 * the additive mask {@code [B, 1, T, T]}.
 */
public final class LlamaAttention extends HfModule {

    private final int heads;
    private final int kvHeads;
    private final long hidden;
    private final float dropout;
    private Block qProj;
    private Block kProj;
    private Block vProj;
    private Block oProj;

    /**
     * Creates the attention of one decoder layer.
     *
     * @param config the model config
     */
    public LlamaAttention(LlamaConfig config) {
        heads = config.numAttentionHeads();
        kvHeads = config.numKeyValueHeads();
        hidden = config.hiddenSize();
        dropout = config.attentionDropout();
        long d = config.headDim();
        boolean bias = config.attentionBias();
        qProj = linear("q_proj", hidden, heads * d, bias);
        kProj = linear("k_proj", hidden, kvHeads * d, bias);
        vProj = linear("v_proj", hidden, kvHeads * d, bias);
        oProj = linear("o_proj", heads * d, hidden, bias);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.get(0);
        NDArray cos = inputs.get(1);
        NDArray sin = inputs.get(2);
        NDArray q = Attention.splitHeads(call(qProj, parameterStore, training, params, x), heads);
        NDArray k = Attention.splitHeads(call(kProj, parameterStore, training, params, x), kvHeads);
        NDArray v = Attention.splitHeads(call(vProj, parameterStore, training, params, x), kvHeads);
        q = Rope.apply(q, cos, sin);
        k = Rope.apply(k, cos, sin);
        if (kvHeads < heads) {
            k = k.repeat(1, heads / kvHeads);
            v = v.repeat(1, heads / kvHeads);
        }
        NDArray context = Attention.scaledDotProduct(q, k, v, inputs.get(3), dropout, training);
        return new NDList(
                call(oProj, parameterStore, training, params, Attention.mergeHeads(context)));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
