package dev.peft4j.merge.fw;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.loss.Loss;
import java.util.List;
import java.util.function.Predicate;

/** A task loss on labelled proxy examples: {@code loss.evaluate(labels, predictions)} averaged over batches. */
public final class LabelledObjective extends BlockObjective {

    private final List<NDList> labels;
    private final Loss loss;

    /**
     * Creates the objective.
     *
     * @param inputs the proxy inputs, one {@link NDList} per batch
     * @param labels the labels of each batch
     * @param loss the task loss ({@code Loss.softmaxCrossEntropyLoss()} for classification)
     */
    public LabelledObjective(
            Block block,
            String keyPrefix,
            Predicate<String> selected,
            List<NDList> inputs,
            List<NDList> labels,
            Loss loss) {
        super(block, keyPrefix, selected, inputs);
        if (labels.size() != inputs.size()) {
            throw new IllegalArgumentException(
                    "Got "
                            + inputs.size()
                            + " input batches but "
                            + labels.size()
                            + " label batches");
        }
        this.labels = List.copyOf(labels);
        this.loss = loss;
    }

    @Override
    protected NDArray batchLoss(NDList predictions, int batch) {
        // the labels join the predictions' scope, so the loss's temporaries are freed with it
        return loss.evaluate(
                copyInto(labels.get(batch), predictions.head().getManager()), predictions);
    }
}
