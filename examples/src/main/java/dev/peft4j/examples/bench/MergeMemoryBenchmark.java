package dev.peft4j.examples.bench;

import ai.djl.engine.Engine;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethods;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Peak resident memory (VmHWM) of merging 1, 4 and 16 MiniLM-size models (22.7M float32
 * parameters, 91 MB each, random weights in safetensors files): each size runs in a fresh JVM so
 * that peaks do not carry over. The streaming merge holds one base tensor, the running state and
 * one candidate tensor at a time, so the peak should be flat in the number of models (target:
 * within 10% from 4 to 16). Args: methods (default {@code task_arithmetic,ties}), optional folder
 * to keep the model files in.
 */
public final class MergeMemoryBenchmark {

    private static final int[] SIZES = {1, 4, 16};

    private MergeMemoryBenchmark() {}

    /** Parent: writes the models and runs one child JVM per (method, size); child: {@code --child method n dir}. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(args[1], Integer.parseInt(args[2]), Path.of(args[3]));
            return;
        }
        List<String> methods =
                List.of((args.length > 0 ? args[0] : "task_arithmetic,ties").split(","));
        Path dir =
                args.length > 1
                        ? Path.of(args[1])
                        : Files.createTempDirectory("minilm-merge-bench");
        boolean keep = args.length > 1;
        try {
            writeModels(dir, 16);
            System.out.printf(
                    Locale.ROOT,
                    "Peak RSS of merging MiniLM-size models (%,d params, %.1f MB each), %d cores%n",
                    MiniLmFiles.parameterCount(),
                    MiniLmFiles.parameterCount() * 4 / 1e6,
                    Runtime.getRuntime().availableProcessors());
            System.out.printf(
                    Locale.ROOT,
                    "%-16s %7s %14s %14s %9s%n",
                    "method",
                    "models",
                    "after init MiB",
                    "peak RSS MiB",
                    "time s");
            for (String method : methods) {
                double[] peaks = new double[SIZES.length];
                for (int i = 0; i < SIZES.length; i++) {
                    String line = runChild(method, SIZES[i], dir);
                    String[] f = line.trim().split("\\s+");
                    peaks[i] = Double.parseDouble(f[1]);
                    System.out.printf(
                            Locale.ROOT,
                            "%-16s %7d %14s %14s %9s%n",
                            method,
                            SIZES[i],
                            f[0],
                            f[1],
                            f[2]);
                }
                System.out.printf(
                        Locale.ROOT,
                        "%-16s peak 16 vs 4 models: %+.1f%% (target within 10%%)%n",
                        method,
                        100 * (peaks[2] / peaks[1] - 1));
            }
        } finally {
            if (!keep) {
                MiniLmFiles.delete(dir);
            }
        }
    }

    /** Writes {@code base} and {@code ft-0 .. ft-(n-1)} unless present. */
    static void writeModels(Path dir, int n) throws Exception {
        if (!Files.exists(dir.resolve("base"))) {
            MiniLmFiles.writeModel(dir.resolve("base"), 0, 0.1);
        }
        for (int i = 0; i < n; i++) {
            if (!Files.exists(dir.resolve("ft-" + i))) {
                MiniLmFiles.writeModel(dir.resolve("ft-" + i), i + 1, 0.1);
            }
        }
    }

    private static String runChild(String method, int n, Path dir) throws Exception {
        return MiniLmFiles.runChild(
                "256m",
                MergeMemoryBenchmark.class,
                "--child",
                method,
                String.valueOf(n),
                dir.toString());
    }

    /** Merges {@code n} models into a temporary output and prints {@code RESULT initMiB peakMiB seconds}. */
    private static void child(String method, int n, Path dir) throws Exception {
        Engine.getInstance();
        double init = MiniLmFiles.peakRssMiB();
        MergeMethod m = MergeMethods.create(method, Map.of());
        Path out = Files.createTempDirectory(dir, "out");
        long start = System.nanoTime();
        try {
            MiniLmFiles.mergeFolders(m, dir, n, out.resolve("merged"));
        } finally {
            MiniLmFiles.delete(out);
        }
        System.out.printf(
                Locale.ROOT,
                "RESULT %.0f %.0f %.2f%n",
                init,
                MiniLmFiles.peakRssMiB(),
                (System.nanoTime() - start) / 1e9);
    }
}
