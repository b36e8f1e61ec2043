package dev.peft4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.cli.TrainingOptions;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.examples.text.TextTasks;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TextSplits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * LoRA initializations side by side on a real task: the same MiniLM, rank, steps, data order,
 * learning rate and seed, only {@code init_lora_weights} differs (PEFT's default, PiSSA, LoRA-GA,
 * EVA). Prints one markdown table: training loss after 50, 100 and the last step (mean of the 10
 * steps ending there), test and shifted-test accuracy of the best adapter (by validation)
 * reloaded onto a fresh MiniLM, and the time the initialization took.
 */
@Command(
        name = "InitComparison",
        mixinStandardHelpOptions = true,
        description =
                "Compare LoRA initializations (lora, pissa, lora_ga, eva) fine-tuning MiniLM on a"
                        + " real task.")
public final class InitComparison implements Callable<Integer> {

    @Mixin TrainingOptions training = new TrainingOptions();

    @Option(
            names = "--task",
            defaultValue = "spam",
            description = "spam, sotu-party or sotu-era (default: ${DEFAULT-VALUE})")
    String task;

    @Option(
            names = "--methods",
            defaultValue = "lora,pissa,lora_ga,eva",
            split = ",",
            description = "methods of the catalogue (default: ${DEFAULT-VALUE})")
    List<String> methods;

    @Option(
            names = "--steps",
            defaultValue = "200",
            description = "training steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--progress", description = "show the per-epoch progress bar")
    boolean progress;

    @Option(names = "--out", defaultValue = "runs/init-comparison", description = "output folder")
    Path out;

    @Override
    public Integer call() throws Exception {
        TextSplits splits = TextTasks.load(task, training.seed());
        FineTuneRun.Settings base = training.settings(Methods.byName("lora").learningRate());
        FineTuneRun.Settings s =
                new FineTuneRun.Settings(
                        base.batchSize(),
                        Integer.MAX_VALUE,
                        steps,
                        base.learningRate(),
                        base.seed(),
                        25,
                        progress);
        Map<String, Double> initSeconds = new LinkedHashMap<>();
        List<FineTuneRun.Result> results = new ArrayList<>();
        Map<String, String> failures = new LinkedHashMap<>();
        try (HuggingFaceTokenizer tokenizer = MiniLm.tokenizer()) {
            for (String method : methods) {
                FineTuneRun.Setup inject =
                        FineTuneRun.inject(Methods.byName(method).config().get());
                FineTuneRun.Setup timed =
                        (model, train, manager) -> {
                            long start = System.nanoTime();
                            var pm = inject.apply(model, train, manager);
                            initSeconds.put(method, (System.nanoTime() - start) / 1e9);
                            return pm;
                        };
                try {
                    results.add(
                            FineTuneRun.run(
                                    method,
                                    MiniLm.CLASSIFIER,
                                    splits,
                                    tokenizer,
                                    timed,
                                    s,
                                    out.resolve(method)));
                } catch (IllegalStateException e) {
                    // a run whose adapter turned NaN cannot be saved: report it and go on with the
                    // others
                    failures.put(method, e.getMessage());
                    System.out.println("[" + method + "] failed: " + e.getMessage());
                }
            }
        }
        System.out.println();
        System.out.println(table(results, initSeconds, s));
        failures.forEach(
                (m, why) -> System.out.printf(Locale.ROOT, "| %s | failed: %s |%n", m, why));
        return 0;
    }

    /** The markdown table of the runs. */
    String table(
            List<FineTuneRun.Result> results,
            Map<String, Double> initSeconds,
            FineTuneRun.Settings s) {
        StringBuilder b = new StringBuilder();
        b.append(
                String.format(
                        Locale.ROOT,
                        "Task %s, MiniLM-L6, r 8, alpha 16, query+value, batch %d, Adam %.0e,"
                                + " %d steps, seed %d%n%n",
                        task,
                        s.batchSize(),
                        s.learningRate(),
                        steps,
                        s.seed()));
        b.append("| method | trainable | loss @50 | loss @100 | loss @")
                .append(steps)
                .append(" | test accuracy | shifted test | init time | run time |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (FineTuneRun.Result r : results) {
            b.append(
                    String.format(
                            Locale.ROOT,
                            "| %s | %,d | %.4f | %.4f | %.4f | %.2f%% | %.2f%% | %.1f s | %.0f s"
                                    + " |%n",
                            r.name(),
                            r.trainable(),
                            r.lossAt(50),
                            r.lossAt(100),
                            r.lossAt(steps),
                            100 * r.test(),
                            100 * r.testShift(),
                            initSeconds.getOrDefault(r.name(), Double.NaN),
                            r.seconds()));
        }
        return b.toString();
    }

    /** Runs the comparison with command-line options. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new InitComparison()).execute(args));
    }
}
