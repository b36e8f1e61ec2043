package dev.peft4j.train.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.Scalars;

/**
 * sentence-transformers' {@code CoSENTLoss} (CoSENTLoss.py, {@code compute_loss_from_embeddings}):
 * with {@code s = pairwise_cos_sim(u, v) * scale}, {@code loss = log(1 + sum over pairs (i, j)
 * with label_i < label_j of exp(s_i - s_j))}, computed as a {@code logsumexp} over a zero and
 * every {@code s_i - s_j}, the pairs not in that order pushed down by {@code 1e12}. Predictions:
 * two columns; labels: the gold scores {@code [B]}.
 */
public final class CoSentLoss extends Loss {

    private final double scale;

    /** scale 20, as sentence-transformers' default. */
    public CoSentLoss() {
        this(20.0);
    }

    /** @param scale the factor on the cosine similarities */
    public CoSentLoss(double scale) {
        super("CoSENTLoss");
        this.scale = scale;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray s =
                Scalars.mul(
                        Similarity.pairwiseCosSim(predictions.get(0), predictions.get(1)), scale);
        NDArray diff = s.expandDims(1).sub(s.expandDims(0));
        NDArray y = labels.head().toType(s.getDataType(), false);
        NDArray ordered = y.expandDims(1).lt(y.expandDims(0)).toType(s.getDataType(), false);
        NDArray masked = diff.sub(ordered.neg().add(1).mul(1e12)); // constants: no graph
        NDArray zero = s.getManager().zeros(new Shape(1), s.getDataType());
        return Similarity.logSumExp(NDArrays.concat(new NDList(zero, masked.flatten())));
    }
}
