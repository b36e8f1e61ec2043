package dev.peft4j.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.merge.ta.TaskArithmetic;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Throughput of task arithmetic over 8 MiniLM-size models, in GB of weights read per second (base
 * and candidates; the output is written too), beside this machine's sequential read rate of the
 * same files and its memory copy rate, measured in the same run. The files were just written, so
 * all reads come from the page cache; the merge is compared with reading them, not with the disk.
 * Args: repetitions (default 3), optional folder to keep the model files in.
 */
public final class MergeThroughputBenchmark {

    private static final int MODELS = 8;

    private MergeThroughputBenchmark() {}

    /** Runs the benchmark. */
    public static void main(String[] args) throws Exception {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path dir =
                args.length > 1
                        ? Path.of(args[1])
                        : Files.createTempDirectory("minilm-merge-bench");
        try {
            MergeMemoryBenchmark.writeModels(dir, MODELS);
            List<Path> files = new ArrayList<>();
            for (String name : names()) {
                try (Stream<Path> s = Files.list(dir.resolve(name))) {
                    s.filter(p -> p.toString().endsWith(".safetensors")).forEach(files::add);
                }
            }
            long bytes = 0;
            for (Path f : files) {
                bytes += Files.size(f);
            }
            double merge = BenchTimer.medianMillis(1, reps, () -> merge(dir, true)) / 1e3;
            double compute = BenchTimer.medianMillis(1, reps, () -> merge(dir, false)) / 1e3;
            double read = BenchTimer.medianMillis(1, reps, () -> readAll(files)) / 1e3;
            double copy = copyRate(reps);
            System.out.printf(
                    Locale.ROOT,
                    "Task arithmetic over %d MiniLM-size models (%.0f MB read per merge), %d"
                            + " cores%n",
                    MODELS,
                    bytes / 1e6,
                    Runtime.getRuntime().availableProcessors());
            System.out.printf(
                    Locale.ROOT,
                    "merge:            %6.2f s   %6.2f GB/s of weights read%n",
                    merge,
                    bytes / 1e9 / merge);
            System.out.printf(
                    Locale.ROOT,
                    "merge, no output: %6.2f s   %6.2f GB/s (the merged tensors kept in memory, not"
                            + " written)%n",
                    compute,
                    bytes / 1e9 / compute);
            System.out.printf(
                    Locale.ROOT,
                    "sequential read:  %6.2f s   %6.2f GB/s (same files, page cache)%n",
                    read,
                    bytes / 1e9 / read);
            System.out.printf(
                    Locale.ROOT,
                    "memory copy:                %6.2f GB/s (direct buffer to direct buffer)%n",
                    copy);
            System.out.printf(Locale.ROOT, "merge / read rate: %.2f%n", read / merge);
        } finally {
            if (args.length < 2) {
                MiniLmFiles.delete(dir);
            }
        }
    }

    private static List<String> names() {
        List<String> out = new ArrayList<>(List.of("base"));
        for (int i = 0; i < MODELS; i++) {
            out.add("ft-" + i);
        }
        return out;
    }

    /** One merge into a model folder ({@code write}) or into a discarding output. */
    private static void merge(Path dir, boolean write) throws IOException {
        Path out = Files.createTempDirectory(dir, "out");
        List<Candidate> cs = new ArrayList<>();
        try (CheckpointReader base = CheckpointReader.open(dir.resolve("base"))) {
            for (int i = 0; i < MODELS; i++) {
                cs.add(Candidate.open(dir.resolve("ft-" + i), "ft-" + i, base));
            }
            if (write) {
                try (ModelFolderOutput o =
                        ModelFolderOutput.builder().setDirectory(out.resolve("merged")).build()) {
                    TaskArithmetic.builder().build().merge(base, cs, o);
                }
            } else {
                TaskArithmetic.builder().build().merge(base, cs, new DiscardingOutput());
            }
        } finally {
            for (Candidate c : cs) {
                c.close();
            }
            MiniLmFiles.delete(out);
        }
    }

    /** Computes each merged tensor and drops it: the merge without the output's write. */
    private static final class DiscardingOutput implements MergeOutput {
        private long bytes;

        @Override
        public void write(String key, NDArray theta0, Delta delta, DataType stored) {
            try (NDManager scope = theta0.getManager().newSubManager()) {
                NDArray merged = delta.addTo(theta0);
                merged.attach(scope);
                bytes += merged.size() * 4;
            }
        }

        @Override
        public void commit() {}

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        public String describe() {
            return "discarded";
        }

        @Override
        public void close() {}
    }

    private static void readAll(List<Path> files) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(16 << 20);
        for (Path f : files) {
            try (FileChannel ch = FileChannel.open(f)) {
                while (ch.read(buffer) >= 0) {
                    buffer.clear();
                }
            }
        }
    }

    private static double copyRate(int reps) throws Exception {
        ByteBuffer src = ByteBuffer.allocateDirect(256 << 20);
        ByteBuffer dst = ByteBuffer.allocateDirect(256 << 20);
        double ms =
                BenchTimer.medianMillis(
                        1,
                        reps,
                        () -> {
                            src.clear();
                            dst.clear();
                            dst.put(src);
                        });
        return src.capacity() / 1e9 / (ms / 1e3);
    }
}
