package dev.peft4j.examples.bench;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.training.loss.Loss;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.examples.text.TextTasks;
import dev.peft4j.init.InitOptions;
import dev.peft4j.init.LoraInitialization;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.train.text.TextBatcher;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextSplits;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The cost of the initializers on the real MiniLM, all in one run: (1) the linear algebra under
 * them ({@link LinalgBenchmark}: randomized SVD of 4096 x 4096 with q 128 and 4 iterations, exact
 * SVD of 768 x 3072, NumPy on the same matrices when python3 with numpy is present); (2) PiSSA on
 * every Linear of MiniLM's encoder (36 projections; all-linear leaves out the classification head;
 * r 16), exact and with 4 subspace iterations, against creating the same plain LoRA; (3) EVA's
 * data pass on the spam task (the examples' query+value adapter, r 8, batches of 16). Wall times
 * on a fresh model each repetition; the median is printed.
 */
public final class InitBenchmark {

    private static final int PISSA_RANK = 16;

    private InitBenchmark() {}

    /** Runs the benchmark; options {@code [--repeats N] [--no-linalg] [--no-eva]} (others go to LinalgBenchmark). */
    public static void main(String[] args) throws Exception {
        List<String> options = Arrays.asList(args);
        int at = options.indexOf("--repeats");
        int repeats = at >= 0 ? Integer.parseInt(options.get(at + 1)) : 3;
        System.out.printf(
                Locale.ROOT,
                "Initializer benchmark on %s, %d available processors%n",
                Device.cpu(),
                Runtime.getRuntime().availableProcessors());
        if (!options.contains("--no-linalg")) {
            LinalgBenchmark.main(
                    options.stream()
                            .filter(o -> !o.equals("--no-linalg") && !o.equals("--no-eva"))
                            .toArray(String[]::new));
        }
        double lora = createMillis("true", repeats);
        for (String init : List.of("pissa", "pissa_niter_4")) {
            double ms = createMillis(init, repeats);
            System.out.println(
                    BenchTimer.row(
                            "MiniLM all-linear r 16 " + init,
                            ms,
                            lora,
                            String.format(
                                    Locale.ROOT,
                                    "(plain LoRA %.0f ms; initializer alone %.0f ms)",
                                    lora,
                                    ms - lora)));
        }
        if (!options.contains("--no-eva")) {
            eva(repeats);
        }
    }

    /** Median time of creating an all-linear LoRA with {@code init} on a freshly loaded MiniLM. */
    private static double createMillis(String init, int repeats) throws Exception {
        LoraConfig config =
                LoraConfig.builder()
                        .optRank(PISSA_RANK)
                        .optAlpha(PISSA_RANK)
                        .optInitLoraWeights(init)
                        .setTargetModules(TargetModules.allLinear())
                        .build();
        double[] times = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            try (NDManager manager = NDManager.newBaseManager()) {
                BertForSequenceClassification model = MiniLm.CLASSIFIER.load(manager, 2);
                long start = System.nanoTime();
                PeftModel pm = PeftModel.create(model, config);
                times[i] = (System.nanoTime() - start) / 1e6;
                if (i == 0 && !"true".equals(init)) {
                    System.out.printf(
                            Locale.ROOT,
                            "%s: %d layers adapted%n",
                            init,
                            pm.adaptedLayers().size());
                }
            }
        }
        return median(times);
    }

    /** EVA's data pass with the examples' config on the spam training split. */
    private static void eva(int repeats) throws Exception {
        TextSplits splits = TextTasks.load("spam", 42);
        TextBatcher train;
        try (HuggingFaceTokenizer tokenizer = MiniLm.tokenizer()) {
            train =
                    TextClassifiers.batches(
                            splits.split(TextSplits.TRAIN), tokenizer, 16, true, 42);
        }
        double[] times = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            try (NDManager manager = NDManager.newBaseManager()) {
                BertForSequenceClassification model = MiniLm.CLASSIFIER.load(manager, 2);
                PeftModel pm = PeftModel.create(model, Methods.byName("eva").config().get());
                long start = System.nanoTime();
                LoraInitialization.prepare(
                        pm,
                        PeftModel.DEFAULT,
                        train.getData(manager),
                        Loss.softmaxCrossEntropyLoss(),
                        InitOptions.defaults().withProgress(false));
                times[i] = (System.nanoTime() - start) / 1e6;
                if (i == 0) {
                    System.out.printf(
                            Locale.ROOT,
                            "EVA ranks (query, value of 6 layers, budget 96): %s%n",
                            pm.config(PeftModel.DEFAULT).toJson().get("rank_pattern"));
                }
            }
        }
        System.out.printf(
                Locale.ROOT,
                "EVA data pass, MiniLM query+value r 8, spam batches of 16 (128 tokens): median"
                        + " %.1f s%n",
                median(times) / 1000);
    }

    private static double median(double[] values) {
        double[] t = values.clone();
        Arrays.sort(t);
        return t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }
}
