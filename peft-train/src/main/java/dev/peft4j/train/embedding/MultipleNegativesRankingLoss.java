package dev.peft4j.train.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.Scalars;

/**
 * sentence-transformers' {@code MultipleNegativesRankingLoss} (and, with {@code symmetric}, {@code
 * MultipleNegativesSymmetricRankingLoss}): for anchors {@code a} and candidate columns {@code c_1}
 * (the positives) ... {@code c_m} (hard negatives), {@code scores = cos_sim(a, cat(c_1..c_m)) *
 * scale} and the loss is the cross entropy of each anchor's row with its own positive as the
 * label: every other positive and every negative of the batch is a negative. The symmetric form
 * averages it with the cross entropy of the positives against the anchors ({@code
 * scores[:, :B].T}). Predictions: the column embeddings of a {@link SentenceEncoder}; labels are
 * not used.
 */
public final class MultipleNegativesRankingLoss extends Loss {

    private final double scale;
    private final boolean symmetric;

    /** scale 20 (temperature 0.05), as sentence-transformers' default. */
    public MultipleNegativesRankingLoss() {
        this(20.0, false);
    }

    /**
     * @param scale the factor on the cosine similarities
     * @param symmetric whether to add the positives-to-anchors direction
     */
    public MultipleNegativesRankingLoss(double scale, boolean symmetric) {
        super(symmetric ? "MultipleNegativesSymmetricRankingLoss" : "MultipleNegativesRankingLoss");
        this.scale = scale;
        this.symmetric = symmetric;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        if (predictions.size() < 2) {
            throw new IllegalArgumentException(
                    "MultipleNegativesRankingLoss needs (anchor, positive[, negative...]) columns");
        }
        NDArray anchors = predictions.get(0);
        long batch = anchors.getShape().get(0);
        NDArray candidates =
                predictions.size() == 2
                        ? predictions.get(1)
                        : NDArrays.concat(predictions.subNDList(1), 0);
        NDArray scores = Scalars.mul(Similarity.cosSim(anchors, candidates), scale);
        NDArray forward = Similarity.crossEntropyOnDiagonal(scores);
        if (!symmetric) {
            return forward;
        }
        NDArray backward =
                Similarity.crossEntropyOnDiagonal(
                        scores.get(new NDIndex(":, :{}", batch)).transpose());
        return Scalars.div(forward.add(backward), 2);
    }
}
