package dev.peft4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.cli.TrainingOptions;
import dev.peft4j.examples.text.LinearProbe;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.examples.text.TextTasks;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TextSplits;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Fine-tunes the pre-trained all-MiniLM-L6-v2 on a real text classification task with an adapter
 * (default: LoRA r 8, alpha 16 on query and value, plus a trained classification head), saves the
 * best adapter by validation accuracy, reloads it and reports test accuracy beside the frozen
 * MiniLM + trained head alone.
 */
@Command(
        name = "FineTuneMiniLm",
        mixinStandardHelpOptions = true,
        description =
                "Fine-tune MiniLM with an adapter on a real task (data fetched with npm on first"
                        + " use).")
public final class FineTuneMiniLm implements Callable<Integer> {

    @Mixin TrainingOptions training = new TrainingOptions();

    @Option(
            names = "--task",
            defaultValue = "spam",
            description = "spam, sotu-party or sotu-era (default: ${DEFAULT-VALUE})")
    String task;

    @Option(
            names = "--method",
            defaultValue = "lora",
            description = "adapter method (default: ${DEFAULT-VALUE})")
    String method;

    @Option(names = "--out", description = "output folder (default: runs/<task>-<method>)")
    Path out;

    @Option(names = "--no-probe", description = "skip the frozen MiniLM + head baseline")
    boolean noProbe;

    @Override
    public Integer call() throws Exception {
        Path dir = out != null ? out : Path.of("runs", task + "-" + method);
        TextSplits splits = TextTasks.load(task, training.seed());
        HuggingFaceTokenizer tokenizer = MiniLm.tokenizer();
        System.out.printf(
                Locale.ROOT,
                "Task %s: train %d, validation %d, test %d%s; labels %s%n",
                task,
                splits.split(TextSplits.TRAIN).size(),
                splits.split(TextSplits.VALIDATION).size(),
                splits.split(TextSplits.TEST).size(),
                splits.splits().containsKey(TextSplits.TEST_SHIFT)
                        ? ", shifted test " + splits.split(TextSplits.TEST_SHIFT).size()
                        : "",
                splits.labelNames());
        Methods.Method m = Methods.byName(method);
        FineTuneRun.Settings s = training.settings(m.learningRate());
        FineTuneRun.Result r =
                FineTuneRun.run(
                        method,
                        MiniLm.CLASSIFIER,
                        splits,
                        tokenizer,
                        FineTuneRun.inject(m.config().get()),
                        s,
                        dir);
        System.out.println();
        System.out.printf(
                Locale.ROOT,
                "%-34s %12s %10s %14s%n",
                "model",
                "trainable",
                "test acc",
                "shifted test");
        if (!noProbe) {
            double[] probe = LinearProbe.run(splits, tokenizer, s);
            System.out.printf(
                    Locale.ROOT,
                    "%-34s %,12d %9.2f%% %13s%n",
                    "frozen MiniLM + trained head",
                    384L * splits.labelNames().size() + splits.labelNames().size(),
                    100 * probe[0],
                    pct(probe[1]));
        }
        System.out.printf(
                Locale.ROOT,
                "%-34s %,12d %9.2f%% %13s%n",
                "MiniLM + " + method + " + head",
                r.trainable(),
                100 * r.test(),
                pct(r.testShift()));
        System.out.printf(
                Locale.ROOT,
                "Best adapter (validation %.2f%%) saved in %s; %d steps in %.0f s%n",
                100
                        * r.validation().stream()
                                .mapToDouble(Double::doubleValue)
                                .max()
                                .orElse(Double.NaN),
                r.adapter().toAbsolutePath(),
                r.losses().size(),
                r.seconds());
        return 0;
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * v);
    }

    /** Runs the fine-tuning with command-line options. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new FineTuneMiniLm()).execute(args));
    }
}
