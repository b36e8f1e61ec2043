package dev.peft4j.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Resumable training checkpoints for {@link TrainLoop} ({@code optCheckpoints}), as Hugging Face's
 * Trainer writes {@code checkpoint-<step>} folders. Every {@code every} steps, and when the loop
 * ends, {@code <directory>/checkpoint-<step>/} is published atomically with:
 *
 * <ul>
 *   <li>{@code trainable.safetensors}: every trainable parameter, by DJL name;
 *   <li>{@code optimizer.safetensors}: the {@link ResumableAdam} moments, {@code m.<name>} and
 *       {@code v.<name>} by parameter name;
 *   <li>{@code trainer_state.json}: the step, the epoch and the batches done in it, the optimizer's
 *       step counts, the seed and the loss of every step so far.
 * </ul>
 *
 * <p>Only the newest {@code keep} checkpoints are kept. With {@code optResume(true)} the loop
 * starts from the newest complete checkpoint in the directory, if there is one: parameters and
 * optimizer state are restored, the data is fast-forwarded to the next batch (the dataset's
 * sampler must give the same order in a new process, as {@code SeededBatchSampler} does), and,
 * because the engine is reseeded from {@code (seed, step)} before every step, dropout draws the
 * same masks as an uninterrupted run: the resumed run's weights equal the uninterrupted run's bit
 * for bit. A checkpoint a killed process was writing is never under a {@code checkpoint-<step>}
 * name (its staging is deleted on resume).
 */
public final class TrainingCheckpoints {

    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");
    private static final String TRAINABLE = "trainable.safetensors";
    private static final String OPTIMIZER = "optimizer.safetensors";
    private static final String STATE = "trainer_state.json";

    private final Path directory;
    private final ResumableAdam optimizer;
    private final long seed;
    private final int every;
    private final int keep;
    private final boolean resume;

    private TrainingCheckpoints(Builder b) {
        this.directory = b.directory;
        this.optimizer = b.optimizer;
        this.seed = b.seed;
        this.every = b.every;
        this.keep = b.keep;
        this.resume = b.resume;
    }

    /** A builder: {@code setDirectory}, {@code setOptimizer} and {@code setSeed} are required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Where the run stood at a checkpoint. */
    record Position(int step, int epoch, int batchesDone, List<Float> losses) {}

    /** Steps between checkpoints. */
    int every() {
        return every;
    }

    /** The engine seed of step {@code step} (1-based): a mix of the seed and the step. */
    int seedFor(int step) {
        long h = (seed + step) * 0x9E3779B97F4A7C15L;
        h ^= h >>> 31;
        return (int) (h ^ (h >>> 32));
    }

    /**
     * Restores the newest checkpoint into {@code root} and the optimizer when resuming; null when
     * not resuming or when there is none yet.
     */
    Position resume(Block root, NDManager manager) throws IOException {
        if (!Files.isDirectory(directory)) {
            return null;
        }
        if (!resume) {
            if (!checkpoints().isEmpty()) { // a fresh run would prune the earlier run's checkpoints
                throw new IllegalArgumentException(
                        directory
                                + ": holds checkpoints of an earlier run ("
                                + checkpoints().get(checkpoints().size() - 1).getFileName()
                                + "): resume it (--resume, optResume(true)) or train into"
                                + " another folder");
            }
            return null;
        }
        deleteStaging();
        Path latest = checkpoints().stream().reduce((a, b) -> b).orElse(null);
        if (latest == null) {
            return null;
        }
        JsonObject state = JsonIO.readObject(latest.resolve(STATE));
        String source = latest.resolve(STATE).toString();
        if (state.has("seed") && state.get("seed").getAsLong() != seed) {
            throw new IllegalArgumentException(
                    source
                            + ": the checkpoint was written with seed "
                            + state.get("seed").getAsLong()
                            + ", this run has seed "
                            + seed
                            + " (a resumed run must use the seed it started with)");
        }
        try (SafetensorsReader params = SafetensorsReader.open(latest.resolve(TRAINABLE));
                SafetensorsReader moments = SafetensorsReader.open(latest.resolve(OPTIMIZER));
                NDManager scope = manager.newSubManager()) {
            Map<String, Parameter> trainable = trainable(root);
            if (!trainable.keySet().equals(new TreeSet<>(params.keys()))) {
                throw new IllegalArgumentException(
                        params.file()
                                + ": holds "
                                + params.keys()
                                + " but the model trains "
                                + trainable.keySet());
            }
            for (Map.Entry<String, Parameter> e : trainable.entrySet()) {
                NDArray target = e.getValue().getArray();
                NDArray value = params.load(e.getKey(), scope, target.getDataType());
                if (!value.getShape().equals(target.getShape())) {
                    throw new IllegalArgumentException(
                            params.file()
                                    + ": tensor '"
                                    + e.getKey()
                                    + "' has shape "
                                    + value.getShape()
                                    + ", the model's "
                                    + target.getShape());
                }
                target.set(new NDIndex("..."), value);
            }
            JsonObject steps = state.getAsJsonObject("optimizer_steps");
            for (Map.Entry<String, Parameter> e : trainable.entrySet()) {
                JsonElement count = steps.get(e.getKey());
                if (count == null) {
                    continue; // not updated before the checkpoint
                }
                // DJL's trainer updates a parameter under its id, new in every model instance
                optimizer.restore(
                        e.getValue().getId(),
                        moments.load("m." + e.getKey(), scope),
                        moments.load("v." + e.getKey(), scope),
                        count.getAsInt(),
                        manager);
            }
            List<Float> losses = new ArrayList<>();
            for (JsonElement l : state.getAsJsonArray("losses")) {
                losses.add(l.getAsFloat());
            }
            return new Position(
                    state.get("step").getAsInt(),
                    state.get("epoch").getAsInt(),
                    state.get("batches_done").getAsInt(),
                    losses);
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) { // a missing or mistyped key of trainer_state.json
            throw new IllegalArgumentException(source + ": not a readable checkpoint: " + e, e);
        }
    }

    /**
     * The epochs a resumed run will not repeat: those before the newest checkpoint's epoch (0 when
     * not resuming or when there is no checkpoint). A caller that keeps per-epoch results of its
     * own (validation scores) truncates them to this many, since a run can be killed after an
     * epoch ended but before its next checkpoint.
     */
    public int completedEpochs() throws IOException {
        if (!resume || !Files.isDirectory(directory)) {
            return 0;
        }
        Path latest = checkpoints().stream().reduce((a, b) -> b).orElse(null);
        if (latest == null) {
            return 0;
        }
        JsonElement epoch = JsonIO.readObject(latest.resolve(STATE)).get("epoch");
        if (epoch == null || !epoch.isJsonPrimitive()) {
            throw new IllegalArgumentException(
                    latest.resolve(STATE) + ": expected a number under \"epoch\"");
        }
        return epoch.getAsInt() - 1;
    }

    /** Publishes {@code checkpoint-<step>}, then deletes all but the newest {@code keep}. */
    void save(Block root, int step, int epoch, int batchesDone, List<Float> losses)
            throws IOException {
        LinkedHashMap<String, NDArray> params = new LinkedHashMap<>();
        trainable(root).forEach((k, p) -> params.put(k, p.getArray()));
        LinkedHashMap<String, NDArray> moments = new LinkedHashMap<>();
        JsonObject counts = new JsonObject();
        trainable(root)
                .forEach(
                        (k, p) -> {
                            NDArray[] mv = optimizer.moments(p.getId());
                            if (mv != null) {
                                moments.put("m." + k, mv[0]);
                                moments.put("v." + k, mv[1]);
                                counts.addProperty(k, optimizer.stepCount(p.getId()));
                            }
                        });
        JsonObject state = new JsonObject();
        state.addProperty("step", step);
        state.addProperty("epoch", epoch);
        state.addProperty("batches_done", batchesDone);
        state.addProperty("seed", seed);
        state.add("optimizer_steps", counts);
        JsonArray l = new JsonArray();
        losses.forEach(l::add);
        state.add("losses", l);
        Files.createDirectories(directory);
        AtomicFiles.publishDirectory(
                directory.resolve("checkpoint-" + step),
                staging -> {
                    SafetensorsWriter.write(
                            staging.resolve(TRAINABLE), params, Map.of("format", "pt"));
                    SafetensorsWriter.write(
                            staging.resolve(OPTIMIZER), moments, Map.of("format", "pt"));
                    JsonIO.writeSorted(staging.resolve(STATE), state);
                });
        List<Path> all = checkpoints();
        for (int i = 0; i < all.size() - keep; i++) {
            // renamed out of the checkpoint names first, so a kill never leaves half of one
            AtomicFiles.deleteAtomically(all.get(i));
        }
    }

    /** The complete checkpoints, oldest first. */
    List<Path> checkpoints() throws IOException {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> entries = Files.list(directory)) {
            entries.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
                    .forEach(out::add);
        }
        out.sort(Comparator.comparingLong(TrainingCheckpoints::stepOf));
        return out;
    }

    private static long stepOf(Path p) {
        Matcher m = NAME.matcher(p.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private void deleteStaging() throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith("checkpoint-") && !NAME.matcher(n).matches()) {
                    AtomicFiles.deleteRecursively(p);
                }
            }
        }
    }

    private static Map<String, Parameter> trainable(Block root) {
        Map<String, Parameter> out = new TreeMap<>();
        for (Pair<String, Parameter> p : root.getParameters()) {
            if (p.getValue().requiresGradient()) {
                out.put(p.getKey(), p.getValue());
            }
        }
        return out;
    }

    /** Builds {@link TrainingCheckpoints}. */
    public static final class Builder {
        private Path directory;
        private ResumableAdam optimizer;
        private Long seed;
        private int every = 100;
        private int keep = 2;
        private boolean resume;

        private Builder() {}

        /** The folder of the {@code checkpoint-<step>} folders (required). */
        public Builder setDirectory(Path directory) {
            this.directory = directory;
            return this;
        }

        /** The optimizer the trainer was configured with, whose state is saved (required). */
        public Builder setOptimizer(ResumableAdam optimizer) {
            this.optimizer = optimizer;
            return this;
        }

        /** The seed the engine is reseeded from before every step (required). */
        public Builder setSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Steps between checkpoints (default 100). */
        public Builder optEvery(int steps) {
            this.every = steps;
            return this;
        }

        /** How many of the newest checkpoints to keep (default 2). */
        public Builder optKeep(int keep) {
            this.keep = keep;
            return this;
        }

        /** Whether to start from the newest checkpoint in the directory (default false). */
        public Builder optResume(boolean resume) {
            this.resume = resume;
            return this;
        }

        /** The checkpoints. */
        public TrainingCheckpoints build() {
            if (directory == null || optimizer == null || seed == null) {
                throw new IllegalArgumentException(
                        "TrainingCheckpoints needs setDirectory, setOptimizer and setSeed");
            }
            if (every < 1 || keep < 1) {
                throw new IllegalArgumentException(
                        "every and keep must be at least 1, got " + every + " and " + keep);
            }
            return new TrainingCheckpoints(this);
        }
    }
}
