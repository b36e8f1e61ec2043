package dev.peft4j.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;
import dev.peft4j.core.random.CounterRandom;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The dense SVD OPCM runs per projected tensor, at LLM sizes: {@code Linalg.svd} of a Gaussian
 * {@code 2048 x 5632} (TinyLlama's MLP shape) and {@code 4096 x 4096} (a 7B attention shape)
 * against NumPy's {@code np.linalg.svd(full_matrices=False)} of the very same matrices in the same
 * run (python3 with NumPy). Args: repetitions (default 1).
 */
public final class OpcmSvdBenchmark {

    private OpcmSvdBenchmark() {}

    /** Runs the benchmark. */
    public static void main(String[] args) throws Exception {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        long[][] shapes = {{2048, 5632}, {4096, 4096}};
        System.out.printf(
                Locale.ROOT,
                "OPCM's dense SVD per tensor, %d cores%n",
                Runtime.getRuntime().availableProcessors());
        try (NDManager manager = NDManager.newBaseManager()) {
            for (long[] s : shapes) {
                NDArray a = new CounterRandom(7).normal(manager, 1, new Shape(s[0], s[1]));
                double ours = Double.MAX_VALUE;
                for (int r = 0; r < reps; r++) {
                    long start = System.nanoTime();
                    try (SvdResult svd = Linalg.svd(a)) {
                        svd.s().getFloat(0);
                    }
                    ours = Math.min(ours, (System.nanoTime() - start) / 1e9);
                }
                double numpy = numpy(a, reps);
                System.out.printf(
                        Locale.ROOT,
                        "%d x %d: peft4j %.2f s, NumPy %s, ratio %s%n",
                        s[0],
                        s[1],
                        ours,
                        numpy < 0 ? "unavailable" : String.format(Locale.ROOT, "%.2f s", numpy),
                        numpy < 0 ? "-" : String.format(Locale.ROOT, "%.2f", ours / numpy));
                a.close();
            }
        }
    }

    /** NumPy's best time over {@code reps} on the same matrix, or -1 without NumPy. */
    private static double numpy(NDArray a, int reps) throws Exception {
        Path dir = Files.createTempDirectory("opcm-svd-bench");
        try {
            Path npy = dir.resolve("a.npy");
            LinalgBenchmark.writeNpy(a, npy);
            String code =
                    "import sys,time,numpy as np\n"
                        + "a=np.load(sys.argv[1]);best=1e9\n"
                        + "for _ in range(int(sys.argv[2])):\n"
                        + "  t=time.perf_counter();np.linalg.svd(a,full_matrices=False);best=min(best,time.perf_counter()-t)\n"
                        + "print(best)\n";
            Process p =
                    new ProcessBuilder("python3", "-c", code, npy.toString(), String.valueOf(reps))
                            .redirectErrorStream(true)
                            .start();
            String out;
            try (BufferedReader r =
                    new BufferedReader(
                            new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                out = r.readLine();
            }
            return p.waitFor() == 0 && out != null ? Double.parseDouble(out.strip()) : -1;
        } finally {
            MiniLmFiles.delete(dir);
        }
    }
}
