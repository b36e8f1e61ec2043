package dev.peft4j.train.text;

import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Sampler;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

/**
 * Yields mini-batches of indices in a seeded order that changes every epoch.
 *
 * <p>Each call of {@link #sample} is one epoch; with shuffling, epoch {@code e} visits the
 * indices in the {@link Splits#permutation} drawn from
 * {@code Random(seed + e * 0x9E3779B97F4A7C15L)}, so a run is reproducible and epochs differ.
 * DJL's own {@code RandomSampler} draws from a global generator, which cannot be seeded per
 * dataset.
 */
public final class SeededBatchSampler implements Sampler {

    private static final long EPOCH_STRIDE = 0x9E3779B97F4A7C15L;

    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final boolean dropLast;
    private final AtomicInteger epoch = new AtomicInteger();

    /**
     * Creates a sampler.
     *
     * @param batchSize the number of indices per batch
     * @param shuffle whether to shuffle (otherwise indices come in order, for evaluation)
     * @param seed the seed of the shuffles
     * @param dropLast whether to drop a last batch smaller than {@code batchSize}
     */
    public SeededBatchSampler(int batchSize, boolean shuffle, long seed, boolean dropLast) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be > 0, got " + batchSize);
        }
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.dropLast = dropLast;
    }

    /** Returns the index order of the given epoch for a dataset of {@code size} items. */
    public int[] order(int size, int epochIndex) {
        return !shuffle
                ? IntStream.range(0, size).toArray()
                : Splits.permutation(size, new Random(seed + epochIndex * EPOCH_STRIDE));
    }

    /** {@inheritDoc} */
    @Override
    public Iterator<List<Long>> sample(RandomAccessDataset dataset) {
        int size = Math.toIntExact(dataset.size());
        int[] order = order(size, epoch.getAndIncrement());
        int batches = dropLast ? size / batchSize : (size + batchSize - 1) / batchSize;
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < batches;
            }

            @Override
            public List<Long> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int from = next++ * batchSize;
                List<Long> indices = new ArrayList<>(batchSize);
                for (int i = from; i < Math.min(size, from + batchSize); i++) {
                    indices.add((long) order[i]);
                }
                return indices;
            }
        };
    }

    /** {@inheritDoc} */
    @Override
    public int getBatchSize() {
        return batchSize;
    }
}
