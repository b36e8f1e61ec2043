package dev.peft4j.train.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;

/**
 * sentence-transformers' {@code CosineSimilarityLoss} with its defaults (CosineSimilarityLoss.py):
 * {@code MSELoss()(cosine_similarity(u, v), label)}, the mean squared difference between each
 * pair's cosine and its gold score in {@code [-1, 1]}. Predictions: two columns; labels: {@code
 * [B]}.
 */
public final class CosineSimilarityLoss extends Loss {

    /** Creates the loss. */
    public CosineSimilarityLoss() {
        super("CosineSimilarityLoss");
    }

    /** {@inheritDoc} */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray cos = Similarity.pairwiseCosSim(predictions.get(0), predictions.get(1));
        NDArray y = labels.head().toType(cos.getDataType(), false);
        return cos.sub(y).square().mean();
    }
}
