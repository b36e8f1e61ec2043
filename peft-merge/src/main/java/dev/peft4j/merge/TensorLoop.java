package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One pass over the base model, tensor by tensor: loads {@code theta0} (float32, on the merge
 * device) into a scope that is closed after the tensor, so memory stays flat over the pass.
 */
public final class TensorLoop {

    /** What a pass does with one floating-point tensor. */
    @FunctionalInterface
    public interface Body {
        /** Handles base tensor {@code key}; arrays go to {@code scope}, closed afterwards. */
        void accept(String key, NDArray theta0, NDManager scope) throws IOException;
    }

    private TensorLoop() {}

    /**
     * Runs {@code body} on every floating-point tensor of {@code base} in order; other tensors
     * (integer buffers) are handed to {@code passThrough} as stored (null: skipped).
     */
    public static void run(
            TensorSource base,
            NDManager root,
            MergeListener listener,
            String what,
            Body body,
            Body passThrough)
            throws IOException {
        run(base, base.keys(), root, listener, what, body, passThrough);
    }

    /** Runs {@code body} on the tensors {@code keys} of {@code base}, in that order. */
    public static void run(
            TensorSource base,
            List<String> keys,
            NDManager root,
            MergeListener listener,
            String what,
            Body body,
            Body passThrough)
            throws IOException {
        listener.passStarted(what, keys.size());
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            TensorInfo info = base.info(key);
            try (NDManager scope = root.newSubManager()) {
                if (info.dtype().isFloating()) {
                    body.accept(key, base.load(key, scope, DataType.FLOAT32), scope);
                } else if (passThrough != null) {
                    passThrough.accept(key, base.load(key, scope), scope);
                }
            }
            listener.tensorDone(key, i, keys.size());
        }
    }

    /**
     * Validates every candidate against the base (names unique, tensors and shapes) and returns
     * the notes about tensors left out.
     */
    public static List<String> validate(TensorSource base, List<? extends Candidate> candidates) {
        if (candidates.isEmpty()) {
            throw new IllegalArgumentException("Nothing to merge: no candidates");
        }
        Set<String> names = new HashSet<>();
        List<String> notes = new ArrayList<>();
        for (Candidate c : candidates) {
            if (!names.add(c.name())) {
                throw new IllegalArgumentException(
                        "Two candidates are named '" + c.name() + "': give them distinct names");
            }
            c.validate(base);
            List<String> ignored = c.ignoredTensors();
            if (!ignored.isEmpty()) {
                notes.add(
                        "candidate '"
                                + c.name()
                                + "': "
                                + ignored.size()
                                + " tensor(s) not in the base left out "
                                + (ignored.size() <= 4 ? ignored : ignored.subList(0, 4) + "..."));
            }
        }
        return notes;
    }
}
