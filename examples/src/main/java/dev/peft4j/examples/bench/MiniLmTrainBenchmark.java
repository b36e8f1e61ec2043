package dev.peft4j.examples.bench;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.peft4j.core.PeftModel;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.models.bert.BertForSequenceClassification;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * MiniLM (all-MiniLM-L6-v2) training speed, batch 16, sequence 128, Adam: LoRA r 8 on query and
 * value (plus the classification head) against all parameters trainable, in one run; and the
 * process's resident memory after 50 and after N (default 1,000) LoRA steps, which must stay
 * within 5% (native memory is scoped: flat over a long run).
 *
 * <p>The benchmark runs itself again in a child JVM with a fixed, pre-touched heap
 * ({@code -Xms1g -Xmx1g -XX:+AlwaysPreTouch}, as {@link MergeMemoryBenchmark} does): otherwise the
 * garbage-collected heap grows over the first few hundred steps (a JVM sizes its heap lazily) and
 * that growth, which is not native memory, shows in the RSS. Each checkpoint also prints the
 * committed heap, so RSS minus heap, the native part, is visible. {@code --in-process} skips the child.
 */
public final class MiniLmTrainBenchmark {

    private static final int BATCH = 16;
    private static final int SEQ = 128;

    private MiniLmTrainBenchmark() {}

    /** Args: [--in-process] timed steps per mode (default 30), total LoRA steps for the memory check (default 1000). */
    public static void main(String[] args) throws Exception {
        if (args.length == 0 || !args[0].equals("--in-process")) {
            System.exit(runChild(args));
        }
        int timed = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        int longRun = args.length > 2 ? Integer.parseInt(args[2]) : 1000;
        Engine.getInstance().setRandomSeed(3);
        System.out.printf(
                Locale.ROOT,
                "MiniLM training benchmark: batch %d, sequence %d, %d threads%n",
                BATCH,
                SEQ,
                Runtime.getRuntime().availableProcessors());
        double lora = run(true, timed, longRun);
        double full = run(false, timed, 0);
        System.out.printf(Locale.ROOT, "LoRA r 8 (query, value) + head: %.3f steps/s%n", lora);
        System.out.printf(Locale.ROOT, "all parameters trainable:       %.3f steps/s%n", full);
        System.out.printf(Locale.ROOT, "ratio LoRA / full:              %.2f%n", lora / full);
    }

    /** Runs this benchmark in a JVM with a fixed pre-touched heap; returns its exit code. */
    private static int runChild(String[] args) throws Exception {
        List<String> cmd = MiniLmFiles.childJvm("1g", MiniLmTrainBenchmark.class, "--in-process");
        cmd.addAll(List.of(args));
        System.out.println("(child JVM: -Xms1g -Xmx1g -XX:+AlwaysPreTouch)");
        return new ProcessBuilder(cmd).inheritIO().start().waitFor();
    }

    /** Returns steps per second over {@code timed} steps after 3 warm-up steps; prints RSS checkpoints. */
    private static double run(boolean lora, int timed, int longRun) throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("minilm")) {
            BertForSequenceClassification clf = MiniLm.CLASSIFIER.load(manager, 2);
            model.setBlock(clf);
            NDArray ids = manager.randomInteger(1000, 30000, new Shape(BATCH, SEQ), DataType.INT64);
            NDArray mask = manager.ones(new Shape(BATCH, SEQ), DataType.INT64);
            NDArray types = manager.zeros(new Shape(BATCH, SEQ), DataType.INT64);
            NDArray labels = manager.randomInteger(0, 2, new Shape(BATCH), DataType.INT64);
            NDList data = new NDList(ids, mask, types);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(1e-4f))
                                            .build());
            Trainer trainer =
                    lora
                            ? PeftModel.create(clf, Methods.byName("lora").config().get())
                                    .newTrainer(model, cfg)
                            : model.newTrainer(cfg);
            try (trainer) {
                for (int i = 0; i < 3; i++) {
                    step(trainer, data, labels);
                }
                long start = System.nanoTime();
                for (int i = 0; i < timed; i++) {
                    step(trainer, data, labels);
                }
                double stepsPerSecond = timed / ((System.nanoTime() - start) / 1e9);
                if (longRun > 0) {
                    memoryCheck(trainer, data, labels, 3 + timed, longRun);
                }
                return stepsPerSecond;
            }
        }
    }

    private static void memoryCheck(
            Trainer trainer, NDList data, NDArray labels, int done, int total) throws IOException {
        long at50 = -1;
        for (int step = done + 1; step <= total; step++) {
            step(trainer, data, labels);
            if (step == 50) {
                at50 = MiniLmFiles.rssKiB();
                System.out.printf(
                        Locale.ROOT, "RSS after   50 steps: %,d kB (%s)%n", at50, heap(at50));
            }
            if (step % 100 == 0) {
                long rss = MiniLmFiles.rssKiB();
                System.out.printf(
                        Locale.ROOT, "  ... step %d, RSS %,d kB (%s)%n", step, rss, heap(rss));
            }
        }
        long end = MiniLmFiles.rssKiB();
        System.out.printf(
                Locale.ROOT,
                "RSS after %4d steps: %,d kB (%+.2f%% vs step 50; target within 5%%) (%s)%n",
                total,
                end,
                at50 > 0 ? 100.0 * (end - at50) / at50 : Double.NaN,
                heap(end));
    }

    /** The committed Java heap and the rest of the RSS (native memory, code, stacks). */
    private static String heap(long rssKb) {
        long heapKb = Runtime.getRuntime().totalMemory() / 1024;
        return String.format(
                Locale.ROOT, "Java heap committed %,d kB, rest %,d kB", heapKb, rssKb - heapKb);
    }

    /** One step on fresh copies of the inputs in a per-step manager, as a data loader's batch would be. */
    private static void step(Trainer trainer, NDList data, NDArray labels) {
        try (NDManager scope = labels.getManager().newSubManager()) {
            NDList in = new NDList();
            for (NDArray a : data) {
                NDArray copy = a.duplicate();
                copy.attach(scope);
                in.add(copy);
            }
            NDArray y = labels.duplicate();
            y.attach(scope);
            try (GradientCollector gc = trainer.newGradientCollector()) {
                NDList pred = trainer.forward(in);
                NDArray loss = trainer.getLoss().evaluate(new NDList(y), pred);
                gc.backward(loss);
            }
            trainer.step();
        }
    }
}
