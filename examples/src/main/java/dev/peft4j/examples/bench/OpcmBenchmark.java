package dev.peft4j.examples.bench;

import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.opcm.Opcm;
import dev.peft4j.merge.opcm.OpcmMerger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * OPCM time per arriving model at MiniLM size: full fine-tunes (a dense SVD of each of the 37
 * linear weights per arrival) against LoRA adapters of rank 8 on query and value, and on all
 * linear layers (SVD of the merged low-rank change through QR of its factors). The first arrival
 * has nothing to project against and is reported apart. Args: models (default 4), optional
 * folder to keep the files in.
 */
public final class OpcmBenchmark {

    private OpcmBenchmark() {}

    /** Runs the benchmark. */
    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        Path dir =
                args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("minilm-opcm-bench");
        try {
            MergeMemoryBenchmark.writeModels(dir, n);
            for (int i = 0; i < n; i++) {
                if (!Files.exists(dir.resolve("qv-" + i))) {
                    MiniLmFiles.writeLora(
                            dir.resolve("qv-" + i), 100 + i, 8, MiniLmFiles.QUERY_VALUE);
                    MiniLmFiles.writeLora(
                            dir.resolve("all-" + i), 200 + i, 8, MiniLmFiles.ALL_LINEAR);
                }
            }
            System.out.printf(
                    Locale.ROOT,
                    "OPCM per arriving model, MiniLM size, %d models, %d cores%n",
                    n,
                    Runtime.getRuntime().availableProcessors());
            System.out.printf(
                    Locale.ROOT,
                    "%-28s %10s %14s %12s%n",
                    "candidates",
                    "first s",
                    "later mean s",
                    "later max s");
            double dense = run(dir, "ft-", n, "full fine-tunes");
            double qv = run(dir, "qv-", n, "LoRA r8 query+value");
            double all = run(dir, "all-", n, "LoRA r8 all linear");
            System.out.printf(
                    Locale.ROOT,
                    "speed-up of the low-rank path: %.1fx (q+v), %.1fx (all linear)%n",
                    dense / qv,
                    dense / all);
        } finally {
            if (args.length < 2) {
                MiniLmFiles.delete(dir);
            }
        }
    }

    /** Adds the n models in order; prints and returns the mean time of the arrivals after the first. */
    private static double run(Path dir, String prefix, int n, String label) throws Exception {
        double first = 0;
        double sum = 0;
        double max = 0;
        try (CheckpointReader base = CheckpointReader.open(dir.resolve("base"));
                OpcmMerger merger = Opcm.builder().build().start(base, MergeContext.defaults())) {
            for (int i = 0; i < n; i++) {
                try (Candidate c = Candidate.open(dir.resolve(prefix + i), prefix + i, base)) {
                    double s = merger.add(c).seconds();
                    if (i == 0) {
                        first = s;
                    } else {
                        sum += s;
                        max = Math.max(max, s);
                    }
                }
            }
        }
        double mean = sum / Math.max(1, n - 1);
        System.out.printf(Locale.ROOT, "%-28s %10.2f %14.2f %12.2f%n", label, first, mean, max);
        return mean;
    }
}
