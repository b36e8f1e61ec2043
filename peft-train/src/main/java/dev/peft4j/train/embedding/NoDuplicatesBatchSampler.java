package dev.peft4j.train.embedding;

import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Sampler;
import dev.peft4j.train.text.SeededBatchSampler;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Batches in which no text occurs twice, in any column, as sentence-transformers'
 * {@code NoDuplicatesBatchSampler} builds them (sampler.py, {@code __iter__}): walk the remaining
 * rows in a shuffled order, add a row to the batch unless one of its texts is already in it, yield
 * the batch when full; skipped rows wait for a later batch; the last, partial batch is kept unless
 * {@code dropLast}. With in-batch negatives a duplicate would otherwise be scored as a negative of
 * itself.
 *
 * <p>The shuffle of epoch {@code e} is {@link SeededBatchSampler}'s (seeded per epoch), not
 * torch's {@code randperm}: the batches follow the same rule but not the same random order as
 * sentence-transformers' for one seed.
 */
public final class NoDuplicatesBatchSampler implements Sampler {

    private final List<List<String>> rows;
    private final int batchSize;
    private final boolean dropLast;
    private final SeededBatchSampler order;
    private final AtomicInteger epoch = new AtomicInteger();

    /**
     * Creates a sampler over the rows' text values.
     *
     * @param rows the texts of each row (its columns)
     * @param batchSize rows per batch
     * @param seed the seed of the per-epoch shuffles
     * @param dropLast whether to drop the last, partial batch
     */
    public NoDuplicatesBatchSampler(
            List<List<String>> rows, int batchSize, long seed, boolean dropLast) {
        this.rows = List.copyOf(rows);
        this.batchSize = batchSize;
        this.dropLast = dropLast;
        this.order = new SeededBatchSampler(batchSize, true, seed, dropLast);
    }

    /** The batches of one epoch for the given visiting order of the rows. */
    public List<List<Long>> batches(int[] visitOrder) {
        LinkedHashSet<Integer> remaining = new LinkedHashSet<>();
        for (int i : visitOrder) {
            remaining.add(i);
        }
        List<List<Long>> out = new ArrayList<>();
        while (!remaining.isEmpty()) {
            Set<String> values = new HashSet<>();
            List<Long> batch = new ArrayList<>();
            boolean full = false;
            for (int index : remaining) {
                Set<String> sample = new HashSet<>(rows.get(index));
                boolean clash = false;
                for (String v : sample) {
                    if (values.contains(v)) {
                        clash = true;
                        break;
                    }
                }
                if (clash) {
                    continue;
                }
                batch.add((long) index);
                if (batch.size() == batchSize) {
                    full = true;
                    break;
                }
                values.addAll(sample);
            }
            if (full || !dropLast) {
                out.add(batch);
            }
            for (long index : batch) {
                remaining.remove((int) index);
            }
        }
        return out;
    }

    /** {@inheritDoc} */
    @Override
    public Iterator<List<Long>> sample(RandomAccessDataset dataset) {
        if (dataset.size() != rows.size()) {
            throw new IllegalArgumentException(
                    "The sampler has " + rows.size() + " rows, the dataset " + dataset.size());
        }
        List<List<Long>> batches = batches(order.order(rows.size(), epoch.getAndIncrement()));
        Iterator<List<Long>> it = batches.iterator();
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public List<Long> next() {
                if (!it.hasNext()) {
                    throw new NoSuchElementException();
                }
                return it.next();
            }
        };
    }

    /** {@inheritDoc} */
    @Override
    public int getBatchSize() {
        return batchSize;
    }
}
