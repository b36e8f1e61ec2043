package dev.peft4j.examples.bench;

import java.util.Arrays;
import java.util.Locale;

/** Median wall time of a repeated action after warm-up; benchmarks print ratios of these. */
public final class BenchTimer {

    private BenchTimer() {}

    /** An action that may throw. */
    @FunctionalInterface
    public interface Action {
        /** Runs once. */
        void run() throws Exception;
    }

    /** Median milliseconds of {@code reps} runs after {@code warmup} untimed runs. */
    public static double medianMillis(int warmup, int reps, Action action) throws Exception {
        for (int i = 0; i < warmup; i++) {
            action.run();
        }
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long start = System.nanoTime();
            action.run();
            t[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(t);
        return reps % 2 == 1 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    }

    /** One printed line: label, time, ratio to a baseline, and the target. */
    public static String row(String label, double ms, double baselineMs, String target) {
        double ratio = ms / baselineMs;
        return String.format(
                Locale.ROOT, "%-44s %9.2f ms   ratio %.3f   %s", label, ms, ratio, target);
    }
}
