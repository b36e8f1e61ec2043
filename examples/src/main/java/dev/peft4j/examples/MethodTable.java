package dev.peft4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.cli.TrainingOptions;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.examples.text.LinearProbe;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.examples.text.TextTasks;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TextSplits;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Fine-tunes MiniLM with every adapter method on one real task, same data, steps and seed, and
 * prints one markdown table: trainable parameters, test and shifted-test accuracy, wall time.
 */
@Command(
        name = "MethodTable",
        mixinStandardHelpOptions = true,
        description =
                "Every adapter method on one task: trainable parameters and accuracy in one table.")
public final class MethodTable implements Callable<Integer> {

    @Mixin TrainingOptions training = new TrainingOptions();

    @Option(
            names = "--task",
            defaultValue = "spam",
            description = "spam, sotu-party or sotu-era (default: ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--methods", split = ",", description = "methods to run (default: all)")
    List<String> methods;

    @Option(
            names = "--out",
            defaultValue = "runs/method-table",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() throws Exception {
        TextSplits splits = TextTasks.load(task, training.seed());
        List<String> names = methods != null ? methods : new ArrayList<>(Methods.all().keySet());
        // the head alone trains at LoRA's rate, as it does beside every LoRA adapter
        FineTuneRun.Settings probeSettings =
                training.settings(Methods.byName("lora").learningRate());
        StringBuilder table =
                new StringBuilder(
                        String.format(
                                Locale.ROOT,
                                "| model (%s, %d epoch(s), batch %d) | trainable | test acc |"
                                        + " shifted test acc | time |%n|---|---|---|---|---|%n",
                                task,
                                probeSettings.epochs(),
                                probeSettings.batchSize()));
        try (HuggingFaceTokenizer tokenizer = MiniLm.tokenizer()) {
            double[] probe = LinearProbe.run(splits, tokenizer, probeSettings);
            table.append(
                    row(
                            "frozen MiniLM + head",
                            384L * splits.labelNames().size() + splits.labelNames().size(),
                            probe[0],
                            probe[1],
                            Double.NaN));
            for (String name : names) {
                Methods.Method m = Methods.byName(name);
                FineTuneRun.Settings s = training.settings(m.learningRate());
                FineTuneRun.Result r =
                        FineTuneRun.run(
                                name,
                                MiniLm.CLASSIFIER,
                                splits,
                                tokenizer,
                                FineTuneRun.inject(m.config().get()),
                                s,
                                out.resolve(name));
                table.append(
                        row(
                                name + " + head (lr " + s.learningRate() + ")",
                                r.trainable(),
                                r.test(),
                                r.testShift(),
                                r.seconds()));
                System.out.println(table);
            }
        }
        AtomicFiles.writeBytes(
                out.resolve(task + ".md"), table.toString().getBytes(StandardCharsets.UTF_8));
        System.out.println(table);
        return 0;
    }

    private static String row(
            String name, long trainable, double test, double shift, double seconds) {
        return String.format(
                Locale.ROOT,
                "| %s | %,d | %.2f%% | %s | %s |%n",
                name,
                trainable,
                100 * test,
                Double.isNaN(shift) ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * shift),
                Double.isNaN(seconds) ? "-" : String.format(Locale.ROOT, "%.0f s", seconds));
    }

    /** Runs the comparison with command-line options. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new MethodTable()).execute(args));
    }
}
