package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.norm.Dropout;
import dev.peft4j.core.Scalars;

/** Multi-head scaled dot-product attention as the HF eager implementation computes it. */
public final class Attention {

    private Attention() {}

    /**
     * Splits {@code [B, T, heads * D]} into {@code [B, heads, T, D]}.
     *
     * @param x the projected states
     * @param heads the number of heads
     * @return the per-head states
     */
    public static NDArray splitHeads(NDArray x, int heads) {
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), heads, s.get(2) / heads).transpose(0, 2, 1, 3);
    }

    /**
     * Merges {@code [B, heads, T, D]} back into {@code [B, T, heads * D]}.
     *
     * @param x the per-head states
     * @return the concatenated heads
     */
    public static NDArray mergeHeads(NDArray x) {
        Shape s = x.getShape();
        return x.transpose(0, 2, 1, 3).reshape(s.get(0), s.get(2), s.get(1) * s.get(3));
    }

    /**
     * Computes {@code softmax(q k^T / sqrt(D) + bias) v} per head.
     *
     * @param q queries {@code [B, H, T, D]}
     * @param k keys {@code [B, H, S, D]}
     * @param v values {@code [B, H, S, D]}
     * @param bias additive mask broadcastable to {@code [B, H, T, S]}, or {@code null}
     * @param dropout dropout rate on the attention probabilities (training only)
     * @param training whether this is a training pass
     * @return the attention output {@code [B, H, T, D]}
     */
    public static NDArray scaledDotProduct(
            NDArray q, NDArray k, NDArray v, NDArray bias, float dropout, boolean training) {
        double scale = 1.0 / Math.sqrt(q.getShape().get(3));
        NDArray scores = Scalars.mul(q.matMul(k.transpose(0, 1, 3, 2)), scale);
        if (bias != null) {
            scores = scores.add(bias);
        }
        NDArray probs = scores.softmax(-1);
        if (training && dropout > 0) {
            probs = Dropout.dropout(probs, dropout, true).head();
        }
        return probs.matMul(v);
    }

    /**
     * Turns a 0/1 mask (1 = attend) into an additive bias: 0 where allowed, the most negative
     * finite value of {@code dtype} where masked.
     *
     * @param allowed the mask, any numeric or boolean dtype, broadcastable to the scores
     * @param dtype the dtype of the attention scores
     * @return the additive bias
     */
    public static NDArray maskBias(NDArray allowed, DataType dtype) {
        NDArray blocked = allowed.toType(DataType.BOOLEAN, false).logicalNot();
        return blocked.toType(dtype, false).mul(mostNegative(dtype));
    }

    /**
     * Turns a padding mask {@code [B, S]} (1 = real token) into a bias {@code [B, 1, 1, S]}.
     *
     * @param attentionMask the HF {@code attention_mask}
     * @param dtype the dtype of the attention scores
     * @return the additive bias
     */
    public static NDArray paddingBias(NDArray attentionMask, DataType dtype) {
        return maskBias(attentionMask.expandDims(1).expandDims(1), dtype);
    }

    /**
     * Returns the most negative finite value of a floating dtype, the "minus infinity" HF puts at
     * masked positions (finite, so a fully masked row gives a uniform softmax instead of NaN).
     *
     * @param dtype a floating dtype
     * @return its most negative finite value
     */
    public static double mostNegative(DataType dtype) {
        switch (dtype) {
            case FLOAT16:
                return -65504.0;
            case BFLOAT16:
                return -3.3895313892515355e38;
            case FLOAT64:
                return -Double.MAX_VALUE;
            default:
                return -Float.MAX_VALUE;
        }
    }
}
