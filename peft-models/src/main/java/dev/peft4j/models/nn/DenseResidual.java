package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * The output projections of HF BERT and ViT layers: child {@code dense}, dropout, then
 * optionally the residual and a {@code LayerNorm} child.
 *
 * <ul>
 *   <li>BERT {@code BertSelfOutput} / {@code BertOutput}: {@code LayerNorm(dropout(dense(x)) +
 *       residual)} (post-norm);
 *   <li>ViT {@code ViTOutput}: {@code dropout(dense(x)) + residual};
 *   <li>ViT {@code ViTSelfOutput}: {@code dropout(dense(x))} (called without a residual).
 * </ul>
 *
 * Inputs: {@code x} and, optionally, the residual.
 */
public final class DenseResidual extends HfModule {

    private final long out;
    private final float dropout;
    private Block dense;
    private Block layerNorm;

    /**
     * Creates an output projection.
     *
     * @param in input features
     * @param out output features (the hidden size)
     * @param dropout the {@code hidden_dropout_prob}
     * @param layerNormEps the epsilon of a following {@code LayerNorm} child, or {@code null} for
     *     none
     */
    public DenseResidual(long in, long out, float dropout, Float layerNormEps) {
        this.out = out;
        this.dropout = dropout;
        dense = linear("dense", in, out, true);
        if (layerNormEps != null) {
            layerNorm = register("LayerNorm", new LayerNorm(out, layerNormEps), new Shape(1, out));
        }
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray y = call(dense, parameterStore, training, params, inputs.head());
        if (training && dropout > 0) {
            y = Dropout.dropout(y, dropout, true).head();
        }
        if (inputs.size() > 1) {
            y = y.add(inputs.get(1));
        }
        if (layerNorm != null) {
            y = call(layerNorm, parameterStore, training, params, y);
        }
        return new NDList(y);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {in.slice(0, in.dimension() - 1).add(out)};
    }
}
