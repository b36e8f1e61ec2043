package dev.peft4j.train.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.training.dataset.Sampler;
import ai.djl.translate.Batchifier;
import ai.djl.util.Progress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * A DJL dataset of tokenized labelled texts whose batches are BERT inputs.
 *
 * <p>Every text is tokenized once, when the dataset is built (the cache: epochs never
 * re-tokenize). A batch of {@code B} examples whose longest sequence has {@code T} tokens is
 * {@code data = (input_ids, attention_mask, token_type_ids)}, each int64 {@code [B, T]}, padded
 * on the right with id 0 ({@code [PAD]}), mask 0 and type 0, and {@code labels = (label)}, int64
 * {@code [B]}. All arrays live on the batch's own sub-manager, which {@link Batch#close()} frees.
 * The order of the batches is given by the sampler, normally a {@link SeededBatchSampler}.
 * Split the texts before building (see {@link TextSplits}): DJL's {@code randomSplit} and
 * {@code subDataset} views stack unpadded examples and only work when all lengths are equal.
 */
public final class TextBatcher extends RandomAccessDataset {

    /** Texts are sent to the native tokenizer in groups of this size to bound its memory. */
    private static final int TOKENIZE_CHUNK = 512;

    private final long[][] inputIds;
    private final long[][] typeIds;
    private final long[] labels;

    private TextBatcher(Builder builder) {
        super(builder);
        int n = builder.examples.size();
        inputIds = new long[n][];
        typeIds = new long[n][];
        labels = new long[n];
        for (int from = 0; from < n; from += TOKENIZE_CHUNK) {
            List<TextExample> chunk =
                    builder.examples.subList(from, Math.min(n, from + TOKENIZE_CHUNK));
            Encoding[] encodings =
                    builder.tokenizer.batchEncode(chunk.stream().map(TextExample::text).toList());
            for (int i = 0; i < encodings.length; i++) {
                inputIds[from + i] = encodings[i].getIds();
                typeIds[from + i] = encodings[i].getTypeIds();
                labels[from + i] = chunk.get(i).label();
            }
        }
    }

    /** Returns a builder; set the examples, the tokenizer and the sampling. */
    public static Builder builder() {
        return new Builder();
    }

    /** Returns the cached token ids of an example (special tokens included, no padding). */
    public long[] tokenIds(int index) {
        return inputIds[index].clone();
    }

    /** Returns one unpadded example: data {@code ([T], [T], [T])} and label {@code []}. */
    @Override
    public Record get(NDManager manager, long index) {
        int i = Math.toIntExact(index);
        long[] mask = new long[inputIds[i].length];
        Arrays.fill(mask, 1L);
        NDList data =
                new NDList(
                        manager.create(inputIds[i]),
                        manager.create(mask),
                        manager.create(typeIds[i]));
        return new Record(data, new NDList(manager.create(labels[i])));
    }

    /** Returns the padded batch of the given indices on a new sub-manager of {@code parent}. */
    public Batch batch(NDManager parent, List<Long> indices) {
        return batch(parent, indices, 0);
    }

    private Batch batch(NDManager parent, List<Long> indices, long progress) {
        int b = indices.size();
        int t = 0;
        for (long index : indices) {
            t = Math.max(t, inputIds[Math.toIntExact(index)].length);
        }
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        long[] types = new long[b * t];
        long[] y = new long[b];
        for (int row = 0; row < b; row++) {
            int i = Math.toIntExact(indices.get(row));
            System.arraycopy(inputIds[i], 0, ids, row * t, inputIds[i].length);
            System.arraycopy(typeIds[i], 0, types, row * t, typeIds[i].length);
            Arrays.fill(mask, row * t, row * t + inputIds[i].length, 1L);
            y[row] = labels[i];
        }
        NDManager manager = device == null ? parent.newSubManager() : parent.newSubManager(device);
        Shape shape = new Shape(b, t);
        NDList data =
                new NDList(
                        named(manager.create(ids, shape), "input_ids"),
                        named(manager.create(mask, shape), "attention_mask"),
                        named(manager.create(types, shape), "token_type_ids"));
        NDList target = new NDList(named(manager.create(y), "labels"));
        return new Batch(
                manager,
                data,
                target,
                b,
                Batchifier.STACK,
                Batchifier.STACK,
                progress,
                size(),
                indices);
    }

    private static NDArray named(NDArray array, String name) {
        array.setName(name);
        return array;
    }

    /** Returns the padded batches in this dataset's sampler order; each iteration is one epoch. */
    @Override
    public Iterable<Batch> getData(NDManager manager) {
        return getData(manager, sampler, null);
    }

    /**
     * Returns the padded batches in the given sampler's order; each iteration is one epoch. The
     * executor is ignored: batches are cut from the token cache, there is nothing to prefetch.
     */
    @Override
    public Iterable<Batch> getData(
            NDManager manager, Sampler sampler, ExecutorService executorService) {
        return () -> {
            Iterator<List<Long>> batches = sampler.sample(this);
            return new Iterator<>() {
                private long progress;

                @Override
                public boolean hasNext() {
                    return batches.hasNext();
                }

                @Override
                public Batch next() {
                    List<Long> indices = batches.next();
                    progress += indices.size();
                    return batch(manager, indices, progress);
                }
            };
        };
    }

    /** {@inheritDoc} */
    @Override
    protected long availableSize() {
        return labels.length;
    }

    /** Does nothing: the texts were tokenized when the dataset was built. */
    @Override
    public void prepare(Progress progress) {}

    /** Builds a {@link TextBatcher}. */
    public static final class Builder extends BaseBuilder<Builder> {

        private List<TextExample> examples;
        private HuggingFaceTokenizer tokenizer;

        /** Sets the labelled texts, in their natural order (the sampler reorders them). */
        public Builder setExamples(List<TextExample> examples) {
            this.examples = new ArrayList<>(examples);
            return this;
        }

        /** Sets the tokenizer, e.g. {@link dev.peft4j.models.pretrained.PretrainedEncoder#tokenizer(int)}; it is only used in build(). */
        public Builder setTokenizer(HuggingFaceTokenizer tokenizer) {
            this.tokenizer = tokenizer;
            return this;
        }

        /**
         * Sets a fixed batch size and a {@link SeededBatchSampler}: shuffled per epoch from
         * {@code seed} for training, in order for evaluation; a smaller last batch is kept.
         */
        public Builder setBatching(int batchSize, boolean shuffle, long seed) {
            return setSampling(new SeededBatchSampler(batchSize, shuffle, seed, false));
        }

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /** Tokenizes the examples and returns the dataset. */
        public TextBatcher build() {
            if (examples == null || tokenizer == null || sampler == null) {
                throw new IllegalStateException(
                        "TextBatcher needs setExamples, setTokenizer and setBatching"
                                + " (or setSampling)");
            }
            return new TextBatcher(this);
        }
    }
}
