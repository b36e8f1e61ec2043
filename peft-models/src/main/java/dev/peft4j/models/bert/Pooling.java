package dev.peft4j.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;

/** How an encoder's token states become one vector per sequence. */
public enum Pooling {
    /** HF's {@code pooler}: {@code tanh(dense(h[:, 0]))}; needs the {@code pooler.dense} weights. */
    POOLER,
    /** The first ({@code [CLS]}) token's state, as BGE embeds sentences. */
    CLS,
    /** The mean of the states of the real (unpadded) tokens, as sentence-transformers' MiniLM. */
    MEAN;

    /**
     * Pools hidden states by {@link #CLS} or {@link #MEAN}.
     *
     * @param hidden the last hidden state {@code [B, T, H]}
     * @param attentionMask the padding mask {@code [B, T]} (1 = real token), or {@code null} for
     *     none
     * @return the pooled vectors {@code [B, H]}
     * @throws IllegalStateException for {@link #POOLER}, which the model computes itself
     */
    public NDArray pool(NDArray hidden, NDArray attentionMask) {
        switch (this) {
            case CLS:
                return hidden.get(new NDIndex(":, 0"));
            case MEAN:
                return mean(hidden, attentionMask);
            default:
                throw new IllegalStateException("POOLER pooling is computed by the model's pooler");
        }
    }

    /**
     * Averages the states of real tokens: {@code sum(h * m) / max(sum(m), 1e-9)} as
     * sentence-transformers computes it.
     *
     * @param hidden {@code [B, T, H]}
     * @param attentionMask {@code [B, T]} or {@code null}
     * @return {@code [B, H]}
     */
    public static NDArray mean(NDArray hidden, NDArray attentionMask) {
        if (attentionMask == null) {
            return hidden.mean(new int[] {1});
        }
        NDArray m = attentionMask.toType(hidden.getDataType(), false).expandDims(-1);
        NDArray counts = m.sum(new int[] {1}).maximum(1e-9f);
        return hidden.mul(m).sum(new int[] {1}).div(counts);
    }
}
