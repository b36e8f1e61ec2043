package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.io.Checkpoints;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One model to merge, read one tensor at a time: a fine-tuned model folder ({@link
 * ModelCandidate}) or an adapter folder applied to the base ({@link AdapterCandidate}). Its task
 * vector is given per base tensor, so merges hold at most one candidate tensor at a time.
 */
public interface Candidate extends AutoCloseable {

    /** A short name for progress lines and reports. */
    String name();

    /** Where it comes from ({@code 'name' (/path)}), for error messages. */
    String describe();

    /**
     * Checks this candidate against the base before any merge work: every tensor it changes
     * exists in the base with the same shape.
     *
     * @throws IllegalArgumentException naming this candidate and the tensor (missing tensor, shape
     *     mismatch, different vocabulary size)
     */
    void validate(TensorSource base);

    /**
     * The task vector of base tensor {@code key}: {@code theta_t - theta0}, {@link Delta#zero()}
     * where this candidate does not change the tensor, low-rank where it has factors (LoRA).
     *
     * @param theta0 the base tensor as float32 on the merge device
     * @param manager owns the returned arrays, which are fresh: the caller may change them in place
     * @throws IllegalArgumentException naming the candidate and tensor when it holds NaN or Inf
     */
    Delta taskVector(String key, NDArray theta0, NDManager manager) throws IOException;

    /** The fine-tuned weights {@code theta0 + tau} of base tensor {@code key} (float32, on {@code manager}). */
    default NDArray weights(String key, NDArray theta0, NDManager manager) throws IOException {
        try (NDManager scope = manager.newSubManager()) {
            NDArray out = taskVector(key, theta0, scope).addTo(theta0);
            out.attach(manager);
            return out;
        }
    }

    /** Tensors of the candidate that the base does not have and the merge leaves out (for the report). */
    List<String> ignoredTensors();

    /** Releases the open files. */
    @Override
    void close() throws IOException;

    /**
     * Opens a candidate folder: an adapter folder (it holds {@code adapter_config.json}) applied to
     * {@code base}, or a Hugging Face model folder.
     */
    static Candidate open(Path path, String name, TensorSource base) throws IOException {
        if (Files.isRegularFile(path.resolve(AdapterCheckpoint.CONFIG_FILE))) {
            return AdapterCandidate.open(path, name, base);
        }
        return new ModelCandidate(name, Checkpoints.open(path), path.toString());
    }

    /** Opens a candidate folder named after its folder ({@link #defaultName}). */
    static Candidate open(Path path, TensorSource base) throws IOException {
        return open(path, defaultName(path), base);
    }

    /** A fully fine-tuned model given as any tensor source (closed with the candidate). */
    static Candidate model(String name, TensorSource tensors) {
        return new ModelCandidate(name, tensors, name);
    }

    /** The default name of a candidate folder: its file name. */
    static String defaultName(Path path) {
        Path file = path.toAbsolutePath().normalize().getFileName();
        return file == null ? path.toString() : file.toString();
    }
}
