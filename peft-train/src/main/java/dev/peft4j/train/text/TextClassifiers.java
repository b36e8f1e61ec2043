package dev.peft4j.train.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import java.util.List;
import java.util.function.BiFunction;

/** Batching labelled texts and measuring a text classifier's accuracy. */
public final class TextClassifiers {

    private TextClassifiers() {}

    /** Batches of examples, shuffled per epoch from {@code seed} when {@code shuffle}. */
    public static TextBatcher batches(
            List<TextExample> examples,
            HuggingFaceTokenizer tokenizer,
            int batchSize,
            boolean shuffle,
            long seed) {
        return TextBatcher.builder()
                .setExamples(examples)
                .setTokenizer(tokenizer)
                .setBatching(batchSize, shuffle, seed)
                .build();
    }

    /** Accuracy of {@code model} (logits output) on every batch of {@code data}, in inference mode. */
    public static double accuracy(Block model, TextBatcher data, NDManager manager) {
        long correct = 0;
        long total = 0;
        ParameterStore ps = new ParameterStore(manager, false);
        for (Batch batch : data.getData(manager)) {
            try (batch) {
                NDArray logits = model.forward(ps, batch.getData(), false).singletonOrThrow();
                NDArray labels = batch.getLabels().singletonOrThrow();
                correct += logits.argMax(1).eq(labels).sum().getLong();
                total += labels.size();
            }
        }
        return total == 0 ? Double.NaN : (double) correct / total;
    }

    /** Forward outputs of {@code block} for every batch, concatenated (e.g. pooled embeddings). */
    public static NDArray collect(
            Block block,
            TextBatcher data,
            NDManager manager,
            BiFunction<NDList, NDList, NDArray> pick) {
        NDList parts = new NDList();
        ParameterStore ps = new ParameterStore(manager, false);
        for (Batch batch : data.getData(manager)) {
            try (batch) {
                NDArray out =
                        pick.apply(block.forward(ps, batch.getData(), false), batch.getData());
                out.attach(manager);
                parts.add(out);
            }
        }
        return NDArrays.concat(parts);
    }
}
