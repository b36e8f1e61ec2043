package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Model-sized state that a method carries from one pass over the model to the next (OPCM's merged
 * task vector, FW's iterate): each pass reads what the previous pass wrote and writes the new
 * value, tensor by tensor. Kept in memory, or for large models in safetensors files in a work
 * folder (memory-mapped on read), so that memory stays bounded by one tensor.
 */
public abstract class StateStore implements AutoCloseable {

    /** In memory when the state is at most {@link MergeContext#stateInMemoryBytes()}, on disk otherwise. */
    public static StateStore create(MergeContext context, long stateBytes, NDManager parent)
            throws IOException {
        return stateBytes <= context.stateInMemoryBytes()
                ? new InMemory(parent)
                : new OnDisk(context.workDirectory());
    }

    /** The value put under {@code key} in the previous pass (a copy on {@code manager}), or null. */
    public abstract NDArray get(String key, NDManager manager) throws IOException;

    /** Stores the value of {@code key} for the next pass. */
    public abstract void put(String key, NDArray value) throws IOException;

    /** Ends a pass: what was put becomes what {@link #get} returns; keys not put are gone. */
    public abstract void endPass() throws IOException;

    /** Whether the state lives on disk. */
    public abstract boolean onDisk();

    /** Frees memory or deletes the work files. */
    @Override
    public abstract void close() throws IOException;

    /** Two generations of arrays in memory. */
    static final class InMemory extends StateStore {
        private final NDManager parent;
        private MemoryTensors current;
        private MemoryTensors next;

        InMemory(NDManager parent) {
            this.parent = parent;
            this.current = new MemoryTensors(parent);
            this.next = new MemoryTensors(parent);
        }

        @Override
        public NDArray get(String key, NDManager manager) {
            return current.contains(key)
                    ? current.load(key, manager, current.info(key).dtype())
                    : null;
        }

        @Override
        public void put(String key, NDArray value) {
            next.put(key, value);
        }

        @Override
        public void endPass() {
            current.close();
            current = next;
            next = new MemoryTensors(parent);
        }

        @Override
        public boolean onDisk() {
            return false;
        }

        @Override
        public void close() {
            current.close();
            next.close();
        }
    }

    /** One checkpoint folder per generation in a temporary work folder. */
    static final class OnDisk extends StateStore {
        private final Path root;
        private int generation;
        private CheckpointReader current;
        private ShardedCheckpointWriter next;

        OnDisk(Path workDirectory) throws IOException {
            this.root =
                    workDirectory == null
                            ? Files.createTempDirectory("peft-merge-state")
                            : Files.createTempDirectory(
                                    Files.createDirectories(workDirectory), "peft-merge-state");
        }

        @Override
        public NDArray get(String key, NDManager manager) throws IOException {
            return current != null && current.contains(key)
                    ? current.load(key, manager, DataType.FLOAT32)
                    : null;
        }

        @Override
        public void put(String key, NDArray value) throws IOException {
            if (next == null) {
                next =
                        ShardedCheckpointWriter.open(
                                root.resolve("gen-" + (generation + 1)),
                                ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES,
                                Map.of());
            }
            next.write(key, value);
        }

        @Override
        public void endPass() throws IOException {
            if (current != null) {
                current.close();
                current = null;
                deleteTree(root.resolve("gen-" + generation));
            }
            generation++;
            if (next != null) {
                next.commit();
                next.close();
                next = null;
                current = CheckpointReader.open(root.resolve("gen-" + generation));
            }
        }

        @Override
        public boolean onDisk() {
            return true;
        }

        @Override
        public void close() throws IOException {
            try {
                if (current != null) {
                    current.close();
                }
                if (next != null) {
                    next.close();
                }
            } finally {
                deleteTree(root);
            }
        }

        private static void deleteTree(Path dir) throws IOException {
            if (!Files.exists(dir)) {
                return;
            }
            try (Stream<Path> walk = Files.walk(dir)) {
                List<Path> paths = walk.sorted(Comparator.reverseOrder()).toList();
                for (Path p : paths) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
