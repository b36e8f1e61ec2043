package dev.peft4j.core.io;

import java.io.IOException;
import java.nio.file.Path;

/** A checkpoint file (safetensors file or shard, shard index, JSON config) that is malformed or inconsistent. */
public class CheckpointFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String tensor;

    /** Creates the exception for {@code file}, about {@code tensor} (null when not about one tensor). */
    public CheckpointFormatException(Path file, String tensor, String problem) {
        this(file, tensor, problem, null);
    }

    /** Creates the exception with its cause. */
    public CheckpointFormatException(Path file, String tensor, String problem, Throwable cause) {
        super(message(file, tensor, problem), cause);
        this.file = file;
        this.tensor = tensor;
    }

    private static String message(Path file, String tensor, String problem) {
        String where = tensor == null ? "" : " tensor '" + tensor + "':";
        return "Invalid checkpoint file " + file + ":" + where + " " + problem;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or null when the problem is not about one tensor. */
    public String tensor() {
        return tensor;
    }
}
