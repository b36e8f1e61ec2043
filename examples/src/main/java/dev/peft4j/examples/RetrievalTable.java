package dev.peft4j.examples;

import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.examples.data.DataCache;
import dev.peft4j.examples.data.RetrievalTasks;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.EmbeddingRun;
import dev.peft4j.train.embedding.MultipleNegativesRankingLoss;
import dev.peft4j.train.embedding.SentenceEncoder;
import dev.peft4j.train.text.FineTuneRun;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The README's retrieval table: on each retrieval task built from the real corpora ({@link
 * RetrievalTasks}), for each pre-trained embedder, the metrics of the pre-trained model, after LoRA
 * and after full fine-tuning with in-batch negatives (MultipleNegativesRankingLoss, scale 20),
 * with training time and trainable parameters. Writes {@code table.md}, {@code results.json} and
 * each task's files ({@code train.jsonl}, BEIR {@code queries.jsonl}, {@code corpus.jsonl}, {@code
 * qrels.tsv}) under {@code --out}, so that {@code peft train --task embedding} and {@code peft
 * eval} can be run on the same data.
 */
@Command(
        name = "RetrievalTable",
        mixinStandardHelpOptions = true,
        description =
                "Fine-tune MiniLM and BGE-small for retrieval on SpamAssassin and the State of the"
                        + " Union (LoRA and full), and print the table.")
public final class RetrievalTable implements Callable<Integer> {

    @Option(
            names = "--models",
            split = ",",
            defaultValue = "all-minilm-l6-v2,bge-small-en-v1.5",
            description = "encoders (default: ${DEFAULT-VALUE})")
    List<String> models;

    @Option(
            names = "--tasks",
            split = ",",
            defaultValue = "spam-assassin,sotu",
            description = "tasks (default: ${DEFAULT-VALUE})")
    List<String> tasks;

    @Option(
            names = "--max-train",
            defaultValue = "1000",
            description = "training pairs per task (default: ${DEFAULT-VALUE})")
    int maxTrain;

    @Option(
            names = "--max-queries",
            defaultValue = "300",
            description = "test queries per task (default: ${DEFAULT-VALUE})")
    int maxQueries;

    @Option(
            names = "--max-corpus",
            defaultValue = "1000",
            description = "State of the Union test documents (default: ${DEFAULT-VALUE})")
    int maxCorpus;

    @Option(
            names = "--max-length",
            defaultValue = "128",
            description =
                    "truncation in tokens, training and evaluation (default: ${DEFAULT-VALUE})")
    int maxLength;

    @Option(names = "--batch", defaultValue = "16", description = "pairs per batch (default: 16)")
    int batch;

    @Option(names = "--epochs", defaultValue = "1", description = "epochs (default: 1)")
    int epochs;

    @Option(names = "--seed", defaultValue = "42", description = "seed (default: 42)")
    long seed;

    @Option(
            names = "--lora-lr",
            defaultValue = "5e-4",
            description = "LoRA learning rate (default: ${DEFAULT-VALUE}, the method's)")
    float loraLr;

    @Option(
            names = "--full-lr",
            defaultValue = "5e-5",
            description =
                    "full fine-tuning learning rate (default: ${DEFAULT-VALUE}, transformers'"
                            + " default)")
    float fullLr;

    @Option(names = "--out", defaultValue = "runs/retrieval", description = "output folder")
    Path out;

    private static final List<String> SHOWN = List.of("recall@1", "recall@10", "mrr@10", "ndcg@10");

    @Override
    public Integer call() throws Exception {
        List<String> rows = new ArrayList<>();
        JsonArray results = new JsonArray();
        for (String name : tasks) {
            RetrievalTasks.Task task = task(name);
            RetrievalTasks.write(task, out.resolve(task.name()));
            System.out.printf(
                    Locale.ROOT,
                    "%s: %d training pairs, %d test queries, %d test documents%n",
                    task.name(),
                    task.train().size(),
                    task.test().queryIds().size(),
                    task.test().corpusIds().size());
            for (String modelName : models) {
                PretrainedEncoder model = PretrainedEncoder.byName(modelName);
                for (String variant : List.of("pre-trained", "LoRA r 8", "full")) {
                    JsonObject r = run(task, model, variant);
                    results.add(r);
                    rows.add(row(r));
                    System.out.println(rows.get(rows.size() - 1));
                }
            }
        }
        String table = header() + String.join("\n", rows) + "\n";
        System.out.println();
        System.out.print(table);
        AtomicFiles.writeBytes(out.resolve("table.md"), table.getBytes(StandardCharsets.UTF_8));
        JsonIO.writeSorted(out.resolve("results.json"), results);
        return 0;
    }

    private RetrievalTasks.Task task(String name) {
        switch (name) {
            case "spam-assassin":
                return RetrievalTasks.spamAssassin(
                        DataCache.ensure("spam-assassin"), seed, maxTrain, maxQueries);
            case "sotu":
                return RetrievalTasks.stateOfTheUnion(
                        DataCache.ensure("sotu"), seed, maxTrain, maxQueries, maxCorpus);
            default:
                throw new IllegalArgumentException(
                        "--tasks: unknown task '" + name + "'; expected spam-assassin or sotu");
        }
    }

    private JsonObject run(RetrievalTasks.Task task, PretrainedEncoder model, String variant)
            throws Exception {
        JsonObject o = new JsonObject();
        o.addProperty("task", task.name());
        o.addProperty("model", model.modelName());
        o.addProperty("variant", variant);
        Map<String, Double> metrics;
        try (HuggingFaceTokenizer tokenizer = model.tokenizer(maxLength)) {
            if (variant.equals("pre-trained")) {
                Engine.getInstance().setRandomSeed((int) seed);
                long start = System.nanoTime();
                try (NDManager m = NDManager.newBaseManager()) {
                    SentenceEncoder e =
                            new SentenceEncoder(
                                    model.load(m, model.weights()),
                                    model.config().hiddenSize(),
                                    model.pooling(),
                                    true);
                    metrics = EmbeddingRun.evaluate(e, tokenizer, task.test(), m);
                }
                o.addProperty("trainable_parameters", 0);
                o.addProperty("eval_seconds", (System.nanoTime() - start) / 1e9);
            } else {
                boolean lora = variant.startsWith("LoRA");
                LoraConfig config =
                        lora
                                ? LoraConfig.builder()
                                        .optRank(8)
                                        .optAlpha(16)
                                        .setTargetModules("query", "value")
                                        .build()
                                : null;
                FineTuneRun.Settings s =
                        new FineTuneRun.Settings(
                                batch,
                                epochs,
                                Integer.MAX_VALUE,
                                lora ? loraLr : fullLr,
                                seed,
                                25,
                                false);
                EmbeddingRun.Result r =
                        EmbeddingRun.run(
                                model.modelName() + " " + variant,
                                m -> model.load(m, model.weights()),
                                model.config().hiddenSize(),
                                task.train(),
                                tokenizer,
                                new EmbeddingRun.Spec(
                                        config,
                                        new MultipleNegativesRankingLoss(),
                                        model.pooling(),
                                        true,
                                        s),
                                task.test(),
                                false,
                                out.resolve(task.name())
                                        .resolve(model.modelName() + (lora ? "-lora" : "-full")));
                metrics = r.after();
                o.addProperty("trainable_parameters", r.trainable());
                o.addProperty("train_seconds", r.seconds());
                o.addProperty("steps", r.losses().size());
                o.addProperty("learning_rate", s.learningRate());
            }
        }
        JsonObject m = new JsonObject();
        metrics.forEach(m::addProperty);
        o.add("metrics", m);
        return o;
    }

    private static String header() {
        StringBuilder h = new StringBuilder("| task | model | weights |");
        StringBuilder line = new StringBuilder("|---|---|---|");
        for (String k : SHOWN) {
            h.append(' ').append(k).append(" |");
            line.append("---|");
        }
        h.append(" trainable | training time |\n");
        line.append("---|---|\n");
        return h.append(line).toString();
    }

    private static String row(JsonObject r) {
        StringBuilder b =
                new StringBuilder(
                        String.format(
                                Locale.ROOT,
                                "| %s | %s | %s |",
                                r.get("task").getAsString(),
                                r.get("model").getAsString(),
                                r.get("variant").getAsString()));
        JsonObject m = r.getAsJsonObject("metrics");
        for (String k : SHOWN) {
            b.append(String.format(Locale.ROOT, " %.3f |", m.get(k).getAsDouble()));
        }
        long trainable = r.get("trainable_parameters").getAsLong();
        b.append(trainable == 0 ? " 0 |" : String.format(Locale.ROOT, " %,d |", trainable));
        b.append(
                r.has("train_seconds")
                        ? String.format(
                                Locale.ROOT,
                                " %.0f s (%d steps) |",
                                r.get("train_seconds").getAsDouble(),
                                r.get("steps").getAsInt())
                        : " - |");
        return b.toString();
    }

    /** Runs the table. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new RetrievalTable()).execute(args));
    }
}
