package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/** Keeps the merged model in memory (float32 for floating-point tensors) for tests and chained merges. */
public final class MemoryOutput implements MergeOutput {

    private final MemoryTensors tensors;
    private long bytes;
    private boolean committed;

    /** Creates an output whose arrays live under {@code parent}. */
    public MemoryOutput(NDManager parent) {
        this.tensors = new MemoryTensors(parent);
    }

    @Override
    public void write(String key, NDArray theta0, Delta delta, DataType stored) {
        try (NDManager scope = theta0.getManager().newSubManager()) {
            NDArray merged = delta.addTo(theta0);
            merged.attach(scope);
            tensors.put(key, merged);
            bytes += merged.getShape().size() * merged.getDataType().getNumOfBytes();
        }
    }

    @Override
    public void commit() {
        committed = true;
    }

    /** The merged tensors (after {@link #commit()}). */
    public MemoryTensors tensors() {
        if (!committed) {
            throw new IllegalStateException("The merge has not completed: nothing was committed");
        }
        return tensors;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public String describe() {
        return "memory (" + tensors.keys().size() + " tensors)";
    }

    /** Frees the arrays. */
    @Override
    public void close() {
        tensors.close();
    }
}
