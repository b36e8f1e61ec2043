package dev.peft4j.cli;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.export.HeadConfig;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.Splits;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft train}: fine-tunes a pre-trained text classifier with an adapter on JSONL data
 * ({@code {"text": ..., "label": ...}} per line), saving the best adapter by validation accuracy.
 */
@Command(
        name = "train",
        mixinStandardHelpOptions = true,
        description =
                "Fine-tune a sequence classifier (MiniLM, BGE) with an adapter on JSONL text data.")
public final class TrainCommand implements Callable<Integer> {

    private static final String POOLER = "bert.pooler";

    @Mixin TrainingOptions training = new TrainingOptions();

    @Option(
            names = {"--train", "--data"},
            required = true,
            description =
                    "JSONL training data: {\"text\", \"label\"} per line; for --task embedding"
                            + " {\"anchor\", \"positive\"[, \"negative\"]} or {\"sentence1\","
                            + " \"sentence2\", \"score\"}")
    Path train;

    @Option(
            names = "--task",
            defaultValue = "classification",
            description =
                    "classification (default) or embedding (contrastive, as sentence-transformers)")
    String task;

    @Option(
            names = "--loss",
            defaultValue = "mnrl",
            description =
                    "embedding loss: mnrl (in-batch negatives, default), mnrl-symmetric, triplet"
                            + " (pairs file with negatives), cosent or cosine (scored pairs)")
    String loss;

    @Option(
            names = "--full",
            description = "embedding: train every weight instead of an adapter (the baseline)")
    boolean full;

    @Option(names = "--queries", description = "embedding: BEIR queries.jsonl to evaluate on")
    Path queries;

    @Option(names = "--corpus", description = "embedding: BEIR corpus.jsonl to evaluate on")
    Path corpus;

    @Option(names = "--qrels", description = "embedding: BEIR qrels TSV to evaluate on")
    Path qrels;

    @Option(
            names = "--validation",
            description = "JSONL validation data (default: 10% of --train, seeded)")
    Path validation;

    @Option(names = "--test", description = "JSONL test data, evaluated with the best adapter")
    Path test;

    @Option(
            names = "--model",
            defaultValue = "all-minilm-l6-v2",
            description =
                    "pre-trained encoder: all-minilm-l6-v2 or bge-small-en-v1.5 (default:"
                            + " ${DEFAULT-VALUE})")
    String model;

    @Option(
            names = "--config",
            description = "adapter_config.json to start from (any registered peft_type)")
    Path config;

    @Option(names = "--method", description = "peft_type when no --config is given (default LORA)")
    String method;

    @Option(names = "--r", description = "rank (key r)")
    Integer rank;

    @Option(names = "--alpha", description = "LoRA alpha (key lora_alpha)")
    Double alpha;

    @Option(
            names = "--init",
            description = "init_lora_weights: true, gaussian, pissa, pissa_niter_N, lora_ga, eva")
    String init;

    @Option(names = "--target", split = ",", description = "target_modules (default query,value)")
    List<String> targets;

    @Option(
            names = "--set",
            description = "any config key, e.g. --set lora_dropout=0.1 (JSON values)")
    Map<String, String> settings = new LinkedHashMap<>();

    @Option(
            names = "--pooling",
            description =
                    "how the classifier pools token states: mean, cls, or pooler (transformers'"
                        + " BertForSequenceClassification: tanh(dense(h[CLS])), trained with the"
                        + " head); default: the model's own (mean for MiniLM, cls for BGE)")
    String pooling;

    @Option(
            names = "--max-length",
            defaultValue = "128",
            description = "truncation in tokens (default: ${DEFAULT-VALUE})")
    int maxLength;

    @Option(
            names = {"-o", "--out"},
            required = true,
            description = "output folder")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (task.equals("embedding")) {
            return EmbeddingTraining.run(this);
        }
        if (!task.equals("classification")) {
            throw new IllegalArgumentException(
                    "--task: unknown task '" + task + "'; expected classification or embedding");
        }
        PretrainedEncoder encoder = encoder(model);
        Pooling pool =
                pooling == null ? encoder.pooling() : HeadConfig.parsePooling(pooling, "--pooling");
        AdapterConfig adapter = adapterConfig(pool == Pooling.POOLER);
        if (pool == Pooling.POOLER
                && !PretrainedEncoder.hasPooler(encoder.weights())
                && adapter.modulesToSave().stream()
                        .noneMatch(m -> TargetModules.matchesName(POOLER, m))) {
            throw new IllegalArgumentException(
                    (config != null ? config.toString() : "peft train options")
                            + ": --pooling pooler trains "
                            + POOLER
                            + " with the head ("
                            + model
                            + " has no pooler weights), so modules_to_save must name it (add"
                            + " \"pooler\"); found "
                            + adapter.modulesToSave());
        }
        List<String> labels = new ArrayList<>();
        List<TextExample> trainSet = readJsonl(train, labels, true);
        Map<String, List<TextExample>> splits = new LinkedHashMap<>();
        if (validation != null) {
            splits.put(TextSplits.TRAIN, trainSet);
            splits.put(TextSplits.VALIDATION, readJsonl(validation, labels, false));
        } else {
            List<TextExample> shuffled = Splits.shuffled(trainSet, new Random(training.seed()));
            int cut = Math.max(1, shuffled.size() / 10);
            splits.put(TextSplits.TRAIN, shuffled.subList(cut, shuffled.size()));
            splits.put(TextSplits.VALIDATION, shuffled.subList(0, cut));
        }
        splits.put(
                TextSplits.TEST,
                test != null ? readJsonl(test, labels, false) : splits.get(TextSplits.VALIDATION));
        TextSplits data = new TextSplits("cli", labels, splits);
        System.out.printf(
                Locale.ROOT,
                "%s + %s: train %d, validation %d, test %d, labels %s%n",
                model,
                adapter.peftType(),
                data.split(TextSplits.TRAIN).size(),
                data.split(TextSplits.VALIDATION).size(),
                data.split(TextSplits.TEST).size(),
                labels);
        FineTuneRun.Settings s = training.settings(adapter.recommendedLearningRate());
        FineTuneRun.ModelFactory factory =
                (manager, n) -> encoder.loadForClassification(manager, encoder.weights(), n, pool);
        try (HuggingFaceTokenizer tokenizer = encoder.tokenizer(maxLength)) {
            FineTuneRun.Result r =
                    FineTuneRun.run(
                            adapter.peftType().toLowerCase(Locale.ROOT),
                            factory,
                            data,
                            tokenizer,
                            FineTuneRun.inject(adapter),
                            s,
                            out);
            new HeadConfig(pool, labels, maxLength).write(r.adapter());
            writeSummary(r, labels, s);
            System.out.printf(
                    Locale.ROOT,
                    "best adapter: %s  (validation %s, test %.2f%%, %,d trainable parameters)%n",
                    r.adapter(),
                    r.validation(),
                    100 * r.test(),
                    r.trainable());
        }
        return 0;
    }

    /** The adapter config: the file (or a LORA skeleton), then the flags, parsed by the method's registry. */
    AdapterConfig adapterConfig(boolean trainPooler) throws IOException {
        return adapterConfig(
                trainPooler ? List.of("classifier", "pooler") : List.of("classifier"), "SEQ_CLS");
    }

    /** The adapter config; without --config a skeleton with these modules_to_save and task_type. */
    AdapterConfig adapterConfig(List<String> modulesToSave, String taskType) throws IOException {
        JsonObject json = config != null ? JsonIO.readObject(config) : new JsonObject();
        if (config == null) {
            json.addProperty(
                    "peft_type", method == null ? "LORA" : method.toUpperCase(Locale.ROOT));
            json.add("target_modules", strings(List.of("query", "value")));
            if (!modulesToSave.isEmpty()) {
                json.add("modules_to_save", strings(modulesToSave));
            }
            json.addProperty("task_type", taskType);
        }
        if (rank != null) {
            json.addProperty("r", rank);
        }
        if (alpha != null) {
            json.addProperty("lora_alpha", alpha);
        }
        if (init != null) {
            json.add(
                    "init_lora_weights",
                    "true".equals(init) || "false".equals(init)
                            ? new JsonPrimitive(Boolean.parseBoolean(init))
                            : new JsonPrimitive(init));
        }
        if (targets != null) {
            json.add("target_modules", strings(targets));
        }
        settings.forEach((k, v) -> json.add(k, parseValue(v)));
        String source = config != null ? config.toString() : "peft train options";
        return AdapterMethods.parse(new ConfigJson(json, source));
    }

    private static JsonElement parseValue(String v) {
        try {
            return JsonParser.parseString(v);
        } catch (RuntimeException e) {
            return new JsonPrimitive(v);
        }
    }

    private static JsonArray strings(List<String> values) {
        JsonArray a = new JsonArray();
        values.forEach(a::add);
        return a;
    }

    static PretrainedEncoder encoder(String name) {
        return PretrainedEncoder.byName(name);
    }

    /**
     * Reads {@code {"text", "label"}} lines. Labels (strings or numbers, compared as their JSON
     * text) are mapped to class indices in order of first appearance in the training file (added to
     * {@code labels} when {@code define}); a label the training file lacks is an error naming the
     * file and line.
     */
    static List<TextExample> readJsonl(Path file, List<String> labels, boolean define)
            throws IOException {
        List<TextExample> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = r.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                JsonElement e;
                try {
                    e = JsonParser.parseString(line);
                } catch (RuntimeException ex) {
                    throw new IllegalArgumentException(
                            file + ":" + n + ": not JSON: " + ex.getMessage());
                }
                if (!e.isJsonObject()
                        || !e.getAsJsonObject().has("text")
                        || !e.getAsJsonObject().has("label")) {
                    throw new IllegalArgumentException(
                            file + ":" + n + ": expected an object with \"text\" and \"label\"");
                }
                JsonObject o = e.getAsJsonObject();
                String label = o.get("label").getAsString();
                if (define && !labels.contains(label)) {
                    labels.add(label);
                }
                int index = labels.indexOf(label);
                if (index < 0) {
                    throw new IllegalArgumentException(
                            file
                                    + ":"
                                    + n
                                    + ": label '"
                                    + label
                                    + "' does not occur in the training data "
                                    + labels);
                }
                out.add(new TextExample(o.get("text").getAsString(), index));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": no examples");
        }
        return out;
    }

    private void writeSummary(FineTuneRun.Result r, List<String> labels, FineTuneRun.Settings s)
            throws IOException {
        JsonObject o = new JsonObject();
        o.add("labels", strings(labels));
        o.addProperty("model", model);
        o.addProperty("trainable_parameters", r.trainable());
        JsonArray v = new JsonArray();
        r.validation().forEach(v::add);
        o.add("validation_accuracy", v);
        o.addProperty("test_accuracy", r.test());
        o.addProperty("steps", r.losses().size());
        o.addProperty("learning_rate", s.learningRate());
        o.addProperty("seconds", r.seconds());
        JsonIO.writeSorted(out.resolve("metrics.json"), o);
    }
}
