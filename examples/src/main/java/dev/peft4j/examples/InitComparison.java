package dev.peft4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.examples.data.MiniLmTokenizer;
import dev.peft4j.examples.data.TextSplits;
import dev.peft4j.examples.text.FineTuneRun;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.TaskOptions;
import dev.peft4j.examples.text.TextTasks;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * LoRA initializations side by side on a real task: the same MiniLM, rank, steps, data order and
 * seed, only {@code init_lora_weights} differs (PEFT's default, PiSSA, LoRA-GA, EVA). Prints one
 * markdown table: training loss after 50, 100 and 200 steps (mean of the 10 steps ending there),
 * test accuracy of the best adapter (by validation) reloaded onto a fresh MiniLM, and the time
 * the initialization took.
 */
@Command(name = "InitComparison", mixinStandardHelpOptions = true,
        description = "Compare LoRA initializations (lora, pissa, lora_ga, eva) fine-tuning MiniLM on a real task.")
public final class InitComparison implements Callable<Integer> {

    @Mixin
    TaskOptions options;

    @Option(names = "--methods", defaultValue = "lora,pissa,lora_ga,eva", split = ",",
            description = "methods of the catalogue (default: ${DEFAULT-VALUE})")
    List<String> methods;

    @Option(names = "--steps", defaultValue = "200", description = "training steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--out", defaultValue = "runs/init-comparison", description = "output folder")
    Path out;

    @Override
    public Integer call() throws Exception {
        TextSplits splits = TextTasks.load(options.task, options.seed);
        HuggingFaceTokenizer tokenizer = MiniLmTokenizer.load(MiniLmTokenizer.DEFAULT_MAX_LENGTH);
        FineTuneRun.Settings s = new FineTuneRun.Settings(options.batch, Integer.MAX_VALUE, steps, options.lr,
                options.seed, 25, false);
        Map<String, Double> initSeconds = new LinkedHashMap<>();
        List<FineTuneRun.Result> results = new ArrayList<>();
        for (String method : methods) {
            FineTuneRun.Setup inject = FineTuneRun.inject(Methods.byName(method));
            FineTuneRun.Setup timed = (model, train, manager) -> {
                long start = System.nanoTime();
                var pm = inject.apply(model, train, manager);
                initSeconds.put(method, (System.nanoTime() - start) / 1e9);
                return pm;
            };
            results.add(FineTuneRun.run(method, splits, tokenizer, timed, s, out.resolve(method)));
        }
        System.out.println();
        System.out.println(table(results, initSeconds));
        return 0;
    }

    /** The markdown table of the runs. */
    String table(List<FineTuneRun.Result> results, Map<String, Double> initSeconds) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Task %s, MiniLM-L6, r 8, alpha 16, query+value, batch %d, Adam %.0e,"
                + " %d steps, seed %d%n%n", options.task, options.batch, options.lr, steps, options.seed));
        b.append("| method | trainable | loss @50 | loss @100 | loss @").append(steps)
                .append(" | test accuracy | init time | run time |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (FineTuneRun.Result r : results) {
            b.append(String.format(Locale.ROOT, "| %s | %,d | %.4f | %.4f | %.4f | %.2f%% | %.1f s | %.0f s |%n",
                    r.name(), r.trainable(), r.lossAt(50), r.lossAt(100), r.lossAt(steps), 100 * r.test(),
                    initSeconds.getOrDefault(r.name(), Double.NaN), r.seconds()));
        }
        return b.toString();
    }

    /** Runs the comparison with command-line options. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new InitComparison()).execute(args));
    }
}
