package dev.peft4j.train.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.Scalars;

/**
 * The triplet loss of sentence-transformers' {@code TripletLoss} as its documentation states it:
 * {@code mean(max(d(a, p) - d(a, n) + margin, 0))} with the Euclidean distance {@code d(x, y) =
 * ||x - y + 1e-6||_2} ({@code torch.nn.functional.pairwise_distance}, what sentence-transformers
 * 4.x used; margin 5 by default) or the cosine distance {@code 1 - pairwise_cos_sim(x, y)}.
 *
 * <p>Deliberate difference: sentence-transformers 5.x computes its Euclidean metric with {@code
 * pairwise_euclidean_sim} (TripletLoss.py line 18), which returns the <em>negative</em> distance
 * (util/similarity.py line 193), so its loss is {@code max(||a - n|| - ||a - p|| + margin, 0)},
 * which pulls negatives in and pushes positives away; we keep the documented (and 4.x) sign.
 */
public final class TripletLoss extends Loss {

    /** How the distance between two embeddings is measured. */
    public enum Distance {
        /** {@code ||x - y + 1e-6||_2}. */
        EUCLIDEAN,
        /** {@code 1 - cos(x, y)}. */
        COSINE
    }

    private final Distance distance;
    private final double margin;

    /** Euclidean distance, margin 5, as sentence-transformers' defaults. */
    public TripletLoss() {
        this(Distance.EUCLIDEAN, 5.0);
    }

    /**
     * @param distance the distance
     * @param margin how much farther the negative must be than the positive
     */
    public TripletLoss(Distance distance, double margin) {
        super("TripletLoss");
        this.distance = distance;
        this.margin = margin;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        if (predictions.size() != 3) {
            throw new IllegalArgumentException("TripletLoss needs (anchor, positive, negative)");
        }
        NDArray a = predictions.get(0);
        NDArray pos = distance(a, predictions.get(1));
        NDArray neg = distance(a, predictions.get(2));
        return pos.sub(neg).add(margin).maximum(Scalars.of(pos, 0)).mean();
    }

    private NDArray distance(NDArray x, NDArray y) {
        if (distance == Distance.COSINE) {
            return Similarity.pairwiseCosSim(x, y).neg().add(1);
        }
        return x.sub(y).add(1e-6).square().sum(new int[] {1}).sqrt();
    }
}
