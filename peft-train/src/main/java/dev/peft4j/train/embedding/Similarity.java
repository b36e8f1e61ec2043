package dev.peft4j.train.embedding;

import ai.djl.ndarray.NDArray;

/** The similarity functions of sentence-transformers' losses (util/similarity.py). */
final class Similarity {

    private Similarity() {}

    /** {@code cos_sim(a, b)}: {@code normalize(a) @ normalize(b).T}, {@code [A, B]}. */
    static NDArray cosSim(NDArray a, NDArray b) {
        return SentenceEncoder.l2Normalize(a).matMul(SentenceEncoder.l2Normalize(b).transpose());
    }

    /** {@code pairwise_cos_sim(a, b)}: {@code sum(normalize(a) * normalize(b), -1)}, {@code [B]}. */
    static NDArray pairwiseCosSim(NDArray a, NDArray b) {
        return SentenceEncoder.l2Normalize(a)
                .mul(SentenceEncoder.l2Normalize(b))
                .sum(new int[] {1});
    }

    /**
     * {@code CrossEntropyLoss()(scores, arange(B))}: the mean over rows {@code i} of {@code
     * logsumexp(scores[i]) - scores[i, i]}.
     */
    static NDArray crossEntropyOnDiagonal(NDArray scores) {
        long rows = scores.getShape().get(0);
        long cols = scores.getShape().get(1);
        NDArray logp = scores.logSoftmax(1);
        try (NDArray eye =
                scores.getManager().eye((int) rows, (int) cols, 0, scores.getDataType())) {
            return logp.mul(eye).sum(new int[] {1}).neg().mean();
        }
    }

    /** {@code logsumexp} over every element, computed stably. */
    static NDArray logSumExp(NDArray x) {
        NDArray m = x.max().stopGradient();
        return x.sub(m).exp().sum().log().add(m);
    }
}
