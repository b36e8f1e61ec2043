package dev.peft4j.examples.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.examples.data.DataCache;
import dev.peft4j.examples.data.RetrievalTasks;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.EmbeddingExample;
import dev.peft4j.train.embedding.EmbeddingRun;
import dev.peft4j.train.embedding.MultipleNegativesRankingLoss;
import dev.peft4j.train.text.FineTuneRun;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Contrastive training speed and memory: steps/s of in-batch-negatives training (batch 16 real
 * State of the Union pairs, a sentence and the rest of its chunk, 128 tokens) with LoRA r 8 on
 * query and value against full fine-tuning, and each one's peak RSS. Each variant runs in its own
 * child JVM with the same fixed, pre-touched 1 GiB heap, so that the peak RSS figures differ by
 * native memory (weights, gradients, Adam moments, activations); the timed steps are those after
 * {@value #WARMUP} warm-up steps (a run of {@value #WARMUP} steps subtracted from a run of {@code
 * WARMUP + steps}).
 *
 * <p>Args: {@code [--model all-minilm-l6-v2|bge-small-en-v1.5] [--steps N]} (defaults MiniLM, 20).
 */
public final class ContrastiveTrainBenchmark {

    private static final int WARMUP = 3;
    private static final int BATCH = 16;
    private static final int SEQ = 128;

    private ContrastiveTrainBenchmark() {}

    /** Runs both variants in child JVMs and prints the comparison. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(args[1], args[2], Integer.parseInt(args[3]));
            return;
        }
        String model = "all-minilm-l6-v2";
        int steps = 20;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model":
                    model = args[++i];
                    break;
                case "--steps":
                    steps = Integer.parseInt(args[++i]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        DataCache.ensure("sotu");
        System.out.printf(
                Locale.ROOT,
                "Contrastive training (MNRL), %s, batch %d pairs x %d tokens, %d steps after %d"
                        + " warm-up, %d cores; child JVMs -Xms1g -Xmx1g -XX:+AlwaysPreTouch%n",
                model,
                BATCH,
                SEQ,
                steps,
                WARMUP,
                Runtime.getRuntime().availableProcessors());
        List<double[]> results = new ArrayList<>();
        for (String variant : List.of("lora", "full")) {
            List<String> cmd =
                    MiniLmFiles.childJvm(
                            "1g",
                            ContrastiveTrainBenchmark.class,
                            "--child",
                            variant,
                            model,
                            Integer.toString(steps));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            double[] r = null;
            try (BufferedReader out =
                    new BufferedReader(
                            new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    if (line.startsWith("RESULT ")) {
                        String[] f = line.split(" ");
                        r =
                                new double[] {
                                    Double.parseDouble(f[1]),
                                    Double.parseDouble(f[2]),
                                    Double.parseDouble(f[3])
                                };
                    } else if (!line.contains("AutoNonVariableTypeMode")) {
                        System.out.println("  " + line);
                    }
                }
            }
            if (p.waitFor() != 0 || r == null) {
                throw new IllegalStateException(variant + " child failed");
            }
            results.add(r);
        }
        System.out.printf(
                Locale.ROOT,
                "%-8s %14s %10s %14s%n",
                "variant",
                "trainable",
                "steps/s",
                "peak RSS MiB");
        String[] names = {"LoRA", "full"};
        for (int i = 0; i < 2; i++) {
            double[] r = results.get(i);
            System.out.printf(
                    Locale.ROOT, "%-8s %,14d %10.3f %14.0f%n", names[i], (long) r[2], r[0], r[1]);
        }
        System.out.printf(
                Locale.ROOT,
                "LoRA / full: steps/s x%.2f, peak RSS x%.2f%n",
                results.get(0)[0] / results.get(1)[0],
                results.get(0)[1] / results.get(1)[1]);
    }

    private static void child(String variant, String modelName, int steps) throws Exception {
        PretrainedEncoder m = PretrainedEncoder.byName(modelName);
        List<EmbeddingExample> rows =
                RetrievalTasks.stateOfTheUnion(
                                DataCache.ensure("sotu"), 42, BATCH * (WARMUP + steps), 1, 1)
                        .train();
        LoraConfig lora =
                variant.equals("lora")
                        ? LoraConfig.builder()
                                .optRank(8)
                                .optAlpha(16)
                                .setTargetModules("query", "value")
                                .build()
                        : null;
        Path out = Files.createTempDirectory("contrastive-bench");
        double[] seconds = new double[2];
        long trainable = 0;
        try (HuggingFaceTokenizer tokenizer = m.tokenizer(SEQ)) {
            int[] lengths = {WARMUP, WARMUP + steps};
            for (int i = 0; i < 2; i++) {
                FineTuneRun.Settings s =
                        new FineTuneRun.Settings(
                                BATCH, 1, lengths[i], lora != null ? 5e-4f : 5e-5f, 42, 0, false);
                EmbeddingRun.Result r =
                        EmbeddingRun.run(
                                modelName + " " + variant,
                                manager -> m.load(manager, m.weights()),
                                m.config().hiddenSize(),
                                rows,
                                tokenizer,
                                new EmbeddingRun.Spec(
                                        lora,
                                        new MultipleNegativesRankingLoss(),
                                        m.pooling(),
                                        true,
                                        s),
                                null,
                                false,
                                out.resolve(Integer.toString(i)));
                if (r.losses().size() != lengths[i]) {
                    throw new IllegalStateException(
                            "ran " + r.losses().size() + " steps, expected " + lengths[i]);
                }
                seconds[i] = r.seconds();
                trainable = r.trainable();
            }
        }
        MiniLmFiles.delete(out);
        System.out.printf(
                Locale.ROOT,
                "RESULT %.6f %.1f %d%n",
                steps / (seconds[1] - seconds[0]),
                MiniLmFiles.peakRssMiB(),
                trainable);
    }
}
