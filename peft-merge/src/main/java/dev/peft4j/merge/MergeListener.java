package dev.peft4j.merge;

/** Progress of a merge: per tensor and per model; the command line prints these. */
public interface MergeListener {

    /** A listener that ignores everything. */
    MergeListener NONE = new MergeListener() {};

    /** A pass over the model starts ({@code what}: "merging", "model 2/4 'sst2'", "FW iteration 3"...). */
    default void passStarted(String what, int tensorCount) {}

    /** Tensor {@code index} (0-based) of {@code count} of the current pass is done. */
    default void tensorDone(String key, int index, int count) {}

    /** A model was folded in (continual methods) or a pass ended; {@code line} says what happened. */
    default void note(String line) {}
}
