package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * HF {@code BertSelfAttention} / {@code ViTSelfAttention}: children {@code query}, {@code key},
 * {@code value} and multi-head attention over them. Inputs: hidden states {@code [B, T, H]} and
 * an optional additive mask bias {@code [B, 1, 1, T]}; output: the context {@code [B, T, H]}
 * (before the output projection, which HF keeps in the sibling {@code output} module).
 */
public final class SelfAttention extends HfModule {

    private final int heads;
    private final long hidden;
    private final float dropout;
    private Block query;
    private Block key;
    private Block value;

    /**
     * Creates the attention of one layer.
     *
     * @param hidden the hidden size
     * @param heads the number of heads, dividing {@code hidden}
     * @param bias whether the projections have biases ({@code qkv_bias})
     * @param dropout the attention-probability dropout ({@code attention_probs_dropout_prob})
     */
    public SelfAttention(long hidden, int heads, boolean bias, float dropout) {
        this.hidden = hidden;
        this.heads = heads;
        this.dropout = dropout;
        query = linear("query", hidden, hidden, bias);
        key = linear("key", hidden, hidden, bias);
        value = linear("value", hidden, hidden, bias);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray bias = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray q = Attention.splitHeads(call(query, parameterStore, training, params, x), heads);
        NDArray k = Attention.splitHeads(call(key, parameterStore, training, params, x), heads);
        NDArray v = Attention.splitHeads(call(value, parameterStore, training, params, x), heads);
        NDArray context = Attention.scaledDotProduct(q, k, v, bias, dropout, training);
        return new NDList(Attention.mergeHeads(context));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {in.slice(0, in.dimension() - 1).add(hidden)};
    }
}
