package dev.peft4j.merge;

import ai.djl.Device;
import ai.djl.engine.Engine;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where and how a merge runs: the device of the arithmetic, the progress listener, and where
 * methods with model-sized state (OPCM's merged model, FW's iterate) keep it when it is too large
 * for memory.
 */
public final class MergeContext {

    /** State up to this many bytes stays in memory by default (1 GiB); larger state goes to disk. */
    public static final long DEFAULT_STATE_IN_MEMORY_BYTES = 1L << 30;

    private final Device device;
    private final MergeListener listener;
    private final Path workDirectory;
    private final long stateInMemoryBytes;

    private MergeContext(Builder b) {
        this.device = b.device == null ? Engine.getInstance().defaultDevice() : b.device;
        this.listener = b.listener;
        this.workDirectory = b.workDirectory;
        this.stateInMemoryBytes = b.stateInMemoryBytes;
    }

    /** The defaults: the engine's default device, no progress output, state in memory up to 1 GiB. */
    public static MergeContext defaults() {
        return builder().build();
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The device all merge arithmetic runs on. */
    public Device device() {
        return device;
    }

    /** The progress listener. */
    public MergeListener listener() {
        return listener;
    }

    /** The folder for on-disk state, or null for the system temporary folder. */
    public Path workDirectory() {
        return workDirectory;
    }

    /** State larger than this goes to disk. */
    public long stateInMemoryBytes() {
        return stateInMemoryBytes;
    }

    /** Builds a {@link MergeContext}. */
    public static final class Builder {
        private Device device;
        private MergeListener listener = MergeListener.NONE;
        private Path workDirectory;
        private long stateInMemoryBytes = DEFAULT_STATE_IN_MEMORY_BYTES;

        private Builder() {}

        /** The device of the arithmetic (default: {@code Engine.getInstance().defaultDevice()}). */
        public Builder optDevice(Device device) {
            this.device = device;
            return this;
        }

        /** The progress listener. */
        public Builder optListener(MergeListener listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** Where on-disk state goes (default: the system temporary folder). */
        public Builder optWorkDirectory(Path dir) {
            this.workDirectory = dir;
            return this;
        }

        /** State larger than this many bytes goes to disk; 0 puts it on disk always. */
        public Builder optStateInMemoryBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("stateInMemoryBytes must be >= 0, got " + bytes);
            }
            this.stateInMemoryBytes = bytes;
            return this;
        }

        /** Builds the context. */
        public MergeContext build() {
            return new MergeContext(this);
        }
    }
}
