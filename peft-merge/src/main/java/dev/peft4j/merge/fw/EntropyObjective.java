package dev.peft4j.merge.fw;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import java.util.List;
import java.util.function.Predicate;

/**
 * Prediction entropy on unlabelled proxy inputs (AdaMerging's objective): the mean over examples
 * of {@code -sum_c p_c log p_c}, {@code p = softmax(logits)} over the last axis of the block's first output.
 */
public final class EntropyObjective extends BlockObjective {

    /** Creates the objective on unlabelled input batches. */
    public EntropyObjective(
            Block block, String keyPrefix, Predicate<String> selected, List<NDList> inputs) {
        super(block, keyPrefix, selected, inputs);
    }

    @Override
    protected NDArray batchLoss(NDList predictions, int batch) {
        NDArray logits = predictions.head();
        NDArray logP = logits.logSoftmax(-1);
        return logP.exp().mul(logP).sum(new int[] {-1}).neg().mean();
    }
}
