package dev.peft4j.train.embedding;

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
import dev.peft4j.train.text.SeededBatchSampler;
import dev.peft4j.train.text.TokenBatch;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * A DJL dataset of tokenized text rows whose batches feed a {@link SentenceEncoder}: a batch of
 * {@code B} rows of {@code k} columns is {@code data = (input_ids, attention_mask,
 * token_type_ids)} of column 0, then of column 1, ..., each int64 {@code [B, T_c]} padded to the
 * column's longest text; {@code labels = (score)}, float32 {@code [B]} (zero for rows without
 * score). Texts are tokenized once, when the dataset is built; arrays live on the batch's
 * sub-manager.
 */
public final class EmbeddingBatcher extends RandomAccessDataset {

    private static final int TOKENIZE_CHUNK = 512;

    private final int columns;
    private final long[][][] ids; // [column][row][token]
    private final long[][][] types;
    private final float[] scores;

    private EmbeddingBatcher(Builder b) {
        super(b);
        List<EmbeddingExample> rows = b.rows;
        columns = rows.get(0).texts().size();
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).texts().size() != columns) {
                throw new IllegalArgumentException(
                        "Row "
                                + i
                                + " has "
                                + rows.get(i).texts().size()
                                + " texts, row 0 has "
                                + columns);
            }
        }
        ids = new long[columns][rows.size()][];
        types = new long[columns][rows.size()][];
        scores = new float[rows.size()];
        for (int c = 0; c < columns; c++) {
            for (int from = 0; from < rows.size(); from += TOKENIZE_CHUNK) {
                List<String> chunk = new ArrayList<>();
                for (int i = from; i < Math.min(rows.size(), from + TOKENIZE_CHUNK); i++) {
                    chunk.add(rows.get(i).texts().get(c));
                }
                Encoding[] enc = b.tokenizer.batchEncode(chunk);
                for (int i = 0; i < enc.length; i++) {
                    ids[c][from + i] = enc[i].getIds();
                    types[c][from + i] = enc[i].getTypeIds();
                }
            }
        }
        for (int i = 0; i < rows.size(); i++) {
            float s = rows.get(i).score();
            scores[i] = Float.isNaN(s) ? 0f : s;
        }
    }

    /** A builder: rows, tokenizer and sampling. */
    public static Builder builder() {
        return new Builder();
    }

    /** The number of text columns of every row. */
    public int columns() {
        return columns;
    }

    /** The padded batch of the given rows on a new sub-manager of {@code parent}. */
    public Batch batch(NDManager parent, List<Long> indices) {
        return batch(parent, indices, 0);
    }

    private Batch batch(NDManager parent, List<Long> indices, long progress) {
        NDManager manager = device == null ? parent.newSubManager() : parent.newSubManager(device);
        NDList data = new NDList();
        for (int c = 0; c < columns; c++) {
            List<long[]> rowIds = new ArrayList<>();
            List<long[]> rowTypes = new ArrayList<>();
            for (long index : indices) {
                rowIds.add(ids[c][Math.toIntExact(index)]);
                rowTypes.add(types[c][Math.toIntExact(index)]);
            }
            data.addAll(TokenBatch.pad(rowIds, rowTypes, 0).toNDList(manager));
        }
        float[] y = new float[indices.size()];
        for (int i = 0; i < y.length; i++) {
            y[i] = scores[Math.toIntExact(indices.get(i))];
        }
        NDList labels = new NDList(manager.create(y, new Shape(y.length)));
        return new Batch(
                manager,
                data,
                labels,
                indices.size(),
                Batchifier.STACK,
                Batchifier.STACK,
                progress,
                size(),
                indices);
    }

    /** One row, unpadded: {@code 3k} arrays {@code [T]} and the score. */
    @Override
    public Record get(NDManager manager, long index) {
        try (Batch b = batch(manager, List.of(index))) {
            NDList data = new NDList();
            for (NDArray a : b.getData()) {
                data.add(a.squeeze(0).duplicate());
            }
            data.attach(manager);
            return new Record(data, new NDList(manager.create(scores[Math.toIntExact(index)])));
        }
    }

    /** {@inheritDoc} */
    @Override
    public Iterable<Batch> getData(NDManager manager) {
        return getData(manager, sampler, null);
    }

    /** The batches in the sampler's order; each iteration is one epoch (no prefetching). */
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
        return scores.length;
    }

    /** Does nothing: the texts were tokenized when the dataset was built. */
    @Override
    public void prepare(Progress progress) {}

    /** Builds an {@link EmbeddingBatcher}. */
    public static final class Builder extends BaseBuilder<Builder> {
        private List<EmbeddingExample> rows;
        private HuggingFaceTokenizer tokenizer;

        /** The rows (at least one; all with the same number of texts). */
        public Builder setRows(List<EmbeddingExample> rows) {
            this.rows = List.copyOf(rows);
            return this;
        }

        /** The tokenizer; used only while building. */
        public Builder setTokenizer(HuggingFaceTokenizer tokenizer) {
            this.tokenizer = tokenizer;
            return this;
        }

        /** Batches of {@code batchSize} in a per-epoch seeded shuffle ({@code SeededBatchSampler}). */
        public Builder setBatching(int batchSize, boolean shuffle, long seed) {
            return setSampling(new SeededBatchSampler(batchSize, shuffle, seed, false));
        }

        /**
         * Batches of {@code batchSize} without duplicate texts ({@link NoDuplicatesBatchSampler}),
         * shuffled per epoch from {@code seed}, for the in-batch-negatives losses.
         */
        public Builder setNoDuplicatesBatching(int batchSize, long seed) {
            List<List<String>> values = new ArrayList<>();
            rows.forEach(r -> values.add(r.texts()));
            return setSampling(new NoDuplicatesBatchSampler(values, batchSize, seed, false));
        }

        /** {@inheritDoc} */
        @Override
        protected Builder self() {
            return this;
        }

        /** Tokenizes the rows and returns the dataset. */
        public EmbeddingBatcher build() {
            if (rows == null || rows.isEmpty() || tokenizer == null || sampler == null) {
                throw new IllegalStateException(
                        "EmbeddingBatcher needs setRows, setTokenizer and a sampling");
            }
            return new EmbeddingBatcher(this);
        }
    }
}
