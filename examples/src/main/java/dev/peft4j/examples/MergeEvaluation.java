package dev.peft4j.examples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.peft4j.cli.TrainingOptions;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.PrefixedSource;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.core.tree.ModuleTree;
import dev.peft4j.examples.text.FullFineTune;
import dev.peft4j.examples.text.Methods;
import dev.peft4j.examples.text.MiniLm;
import dev.peft4j.examples.text.TextTasks;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryOutput;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.fw.FwMerge;
import dev.peft4j.merge.fw.LabelledObjective;
import dev.peft4j.merge.fw.ProxyObjective;
import dev.peft4j.merge.opcm.Opcm;
import dev.peft4j.merge.opcm.OpcmMerger;
import dev.peft4j.merge.ta.TaskArithmetic;
import dev.peft4j.merge.ties.Ties;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.Splits;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Model merging on real tasks: one LoRA adapter and one full fine-tune of MiniLM per task, merged
 * with task arithmetic, TIES, OPCM (tasks in several orders) and FW-Merging; each task is scored
 * with its own head on the merged encoder, beside the pre-trained encoder and the individually
 * fine-tuned models, in one markdown table.
 */
@Command(
        name = "MergeEvaluation",
        mixinStandardHelpOptions = true,
        description =
                "Fine-tune per task, merge, and score every task with its own head on the merged"
                        + " encoder.")
public final class MergeEvaluation implements Callable<Integer> {

    private static final String PREFIX = "bert.";
    private static final String[] BUFFERS = {
        PREFIX + "embeddings.position_ids", PREFIX + "embeddings.token_type_ids"
    };

    @Mixin TrainingOptions training = new TrainingOptions();

    @Option(
            names = "--tasks",
            split = ",",
            defaultValue = "spam,sotu-party,sotu-era",
            description = "tasks (default: ${DEFAULT-VALUE})")
    List<String> tasks;

    @Option(
            names = "--families",
            split = ",",
            defaultValue = "lora,full",
            description = "candidate kinds (default: ${DEFAULT-VALUE})")
    List<String> families;

    @Option(
            names = "--eval-per-class",
            defaultValue = "150",
            description = "test examples per class kept (default: ${DEFAULT-VALUE})")
    int evalPerClass;

    @Option(
            names = "--proxy",
            defaultValue = "96",
            description =
                    "validation examples per task in FW's proxy set (default: ${DEFAULT-VALUE})")
    int proxy;

    @Option(
            names = "--out",
            defaultValue = "runs/merge-eval",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--reuse", description = "reuse fine-tuned candidates already in --out")
    boolean reuse;

    private final Map<String, TextSplits> splits = new LinkedHashMap<>();
    private HuggingFaceTokenizer tokenizer;

    @Override
    public Integer call() throws Exception {
        FineTuneRun.Settings s = training.settings(Methods.byName("lora").learningRate());
        for (String t : tasks) {
            TextSplits all = TextTasks.load(t, training.seed());
            // the shifted test split is not used here; validation and test are capped to bound the
            // run time
            Map<String, List<TextExample>> m = new LinkedHashMap<>();
            m.put(TextSplits.TRAIN, all.split(TextSplits.TRAIN));
            for (String split : List.of(TextSplits.VALIDATION, TextSplits.TEST)) {
                m.put(
                        split,
                        Splits.capPerClass(
                                all.split(split),
                                all.labelNames().size(),
                                evalPerClass,
                                training.seed()));
            }
            splits.put(t, new TextSplits(all.task(), all.labelNames(), m));
        }
        StringBuilder table = new StringBuilder("| candidates | merge | ");
        tasks.forEach(t -> table.append(t).append(" | "));
        table.append("average |\n|---|---|").append("---|".repeat(tasks.size() + 1)).append('\n');
        try (HuggingFaceTokenizer tok = MiniLm.tokenizer()) {
            tokenizer = tok;
            for (String family : families) {
                List<Path> candidates = new ArrayList<>();
                for (String t : tasks) {
                    candidates.add(fineTune(family, t, s));
                }
                evaluateFamily(family, candidates, table);
                System.out.println(table);
            }
        }
        AtomicFiles.writeBytes(
                out.resolve("merge-table.md"), table.toString().getBytes(StandardCharsets.UTF_8));
        System.out.println(table);
        return 0;
    }

    /** Fine-tunes one candidate (or reuses it) and returns its folder. */
    private Path fineTune(String family, String task, FineTuneRun.Settings s) throws IOException {
        Path dir = out.resolve(family).resolve(task);
        if ("lora".equals(family)) {
            Path adapter = dir.resolve("best-adapter");
            if (!(reuse && Files.exists(adapter.resolve(AdapterCheckpoint.WEIGHTS_FILE)))) {
                FineTuneRun.run(
                        task,
                        MiniLm.CLASSIFIER,
                        splits.get(task),
                        tokenizer,
                        FineTuneRun.inject(Methods.byName("lora").config().get()),
                        s,
                        dir);
            }
            return adapter;
        }
        if ("full".equals(family)) {
            if (!(reuse && Files.exists(dir.resolve("model.safetensors")))) {
                FullFineTune.run(
                        task,
                        splits.get(task),
                        tokenizer,
                        training.learningRateGiven()
                                ? s
                                : s.withLearningRate(FullFineTune.LEARNING_RATE),
                        dir);
            }
            return dir;
        }
        throw new IllegalArgumentException(
                "--families: unknown '" + family + "'; use lora and/or full");
    }

    private void evaluateFamily(String family, List<Path> paths, StringBuilder table)
            throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource base = new PrefixedSource(MiniLm.ENCODER.weights(), PREFIX)) {
            Map<String, NDArray[]> heads = new LinkedHashMap<>();
            for (int i = 0; i < tasks.size(); i++) {
                heads.put(tasks.get(i), head(family, paths.get(i), manager));
            }
            row(table, family, "pre-trained encoder", evaluate(base, heads));
            List<Double> own = new ArrayList<>();
            for (int i = 0; i < tasks.size(); i++) {
                try (Candidate c = Candidate.open(paths.get(i), tasks.get(i), base);
                        MemoryOutput merged = new MemoryOutput(manager)) {
                    TaskArithmetic.builder().optLambda(1).build().merge(base, List.of(c), merged);
                    own.add(score(merged.tensors(), tasks.get(i), heads.get(tasks.get(i))));
                }
            }
            row(table, family, "individually fine-tuned (each on its own task)", own);
            merged(
                    table,
                    family,
                    "task arithmetic (lambda 0.3)",
                    TaskArithmetic.builder().build(),
                    base,
                    paths,
                    heads,
                    manager);
            merged(
                    table,
                    family,
                    "TIES (k 20%, lambda 1)",
                    Ties.builder().build(),
                    base,
                    paths,
                    heads,
                    manager);
            for (List<Integer> order : orders()) {
                opcm(table, family, order, base, paths, heads, manager);
            }
            FwMerge fw = FwMerge.builder().setObjectives(objectives(base, heads, manager)).build();
            merged(
                    table,
                    family,
                    "FW-Merging (hard, model, 10 iterations)",
                    fw,
                    base,
                    paths,
                    heads,
                    manager);
        }
    }

    private void merged(
            StringBuilder table,
            String family,
            String label,
            MergeMethod method,
            TensorSource base,
            List<Path> paths,
            Map<String, NDArray[]> heads,
            NDManager manager)
            throws IOException {
        List<Candidate> candidates = open(paths, base);
        try (MemoryOutput merged = new MemoryOutput(manager)) {
            method.merge(base, candidates, merged);
            row(table, family, label, evaluate(merged.tensors(), heads));
        } finally {
            closeAll(candidates);
        }
    }

    private void opcm(
            StringBuilder table,
            String family,
            List<Integer> order,
            TensorSource base,
            List<Path> paths,
            Map<String, NDArray[]> heads,
            NDManager manager)
            throws IOException {
        List<Candidate> candidates = open(paths, base);
        List<String> names = new ArrayList<>();
        try (OpcmMerger merger = Opcm.builder().build().start(base, MergeContext.defaults());
                MemoryOutput merged = new MemoryOutput(manager)) {
            for (int i : order) {
                merger.add(candidates.get(i));
                names.add(tasks.get(i));
            }
            merger.write(merged);
            row(
                    table,
                    family,
                    "OPCM (" + String.join(" > ", names) + ")",
                    evaluate(merged.tensors(), heads));
        } finally {
            closeAll(candidates);
        }
    }

    /** The task order as given, reversed, and rotated by one. */
    private List<List<Integer>> orders() {
        List<Integer> forward = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            forward.add(i);
        }
        List<Integer> reverse = new ArrayList<>(forward);
        Collections.reverse(reverse);
        List<Integer> rotated = new ArrayList<>(forward.subList(1, forward.size()));
        rotated.add(forward.get(0));
        return tasks.size() > 2 ? List.of(forward, reverse, rotated) : List.of(forward, reverse);
    }

    private List<Candidate> open(List<Path> paths, TensorSource base) throws IOException {
        List<Candidate> out = new ArrayList<>();
        for (int i = 0; i < paths.size(); i++) {
            out.add(Candidate.open(paths.get(i), tasks.get(i), base));
        }
        return out;
    }

    private static void closeAll(List<Candidate> candidates) throws IOException {
        for (Candidate c : candidates) {
            c.close();
        }
    }

    /** The task head ({@code classifier.weight}, {@code classifier.bias}) a candidate was trained with. */
    private static NDArray[] head(String family, Path path, NDManager manager) throws IOException {
        Path file =
                "lora".equals(family)
                        ? path.resolve(AdapterCheckpoint.WEIGHTS_FILE)
                        : path.resolve("model.safetensors");
        String prefix = "lora".equals(family) ? AdapterCheckpoint.PREFIX : "";
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return new NDArray[] {
                r.load(prefix + "classifier.weight", manager),
                r.load(prefix + "classifier.bias", manager)
            };
        }
    }

    /** Each task's accuracy with its own head on an encoder given by its {@code bert.*} tensors. */
    private List<Double> evaluate(TensorSource encoder, Map<String, NDArray[]> heads)
            throws IOException {
        List<Double> out = new ArrayList<>();
        for (String t : tasks) {
            out.add(score(encoder, t, heads.get(t)));
        }
        return out;
    }

    private double score(TensorSource encoder, String task, NDArray[] head) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            BertForSequenceClassification clf = classifier(encoder, head, m);
            return TextClassifiers.accuracy(
                    clf,
                    TextClassifiers.batches(
                            splits.get(task).split(TextSplits.TEST),
                            tokenizer,
                            32,
                            false,
                            training.seed()),
                    m);
        }
    }

    private static BertForSequenceClassification classifier(
            TensorSource encoder, NDArray[] head, NDManager m) throws IOException {
        BertForSequenceClassification clf =
                new BertForSequenceClassification(
                        MiniLm.ENCODER.config(),
                        (int) head[0].getShape().get(0),
                        MiniLm.ENCODER.pooling());
        Shape one = new Shape(1, 1);
        clf.initialize(m, DataType.FLOAT32, one, one, one);
        HfWeights.load(
                clf,
                encoder,
                LoadOptions.builder()
                        .optAllowMissing("classifier.")
                        .optIgnoreUnexpected(BUFFERS)
                        .build());
        var params = ModuleTree.get(clf, "classifier").getDirectParameters();
        params.get("weight").getArray().set(head[0].toFloatArray());
        params.get("bias").getArray().set(head[1].toFloatArray());
        return clf;
    }

    /** FW's objective: each task's cross-entropy with its own head on a few validation examples. */
    private List<ProxyObjective> objectives(
            TensorSource base, Map<String, NDArray[]> heads, NDManager manager) throws IOException {
        List<ProxyObjective> out = new ArrayList<>();
        for (String t : tasks) {
            BertForSequenceClassification clf = classifier(base, heads.get(t), manager);
            List<TextExample> examples = splits.get(t).split(TextSplits.VALIDATION);
            examples =
                    Splits.shuffled(examples, new Random(training.seed()))
                            .subList(0, Math.min(proxy, examples.size()));
            List<NDList> inputs = new ArrayList<>();
            List<NDList> labels = new ArrayList<>();
            for (Batch b :
                    TextClassifiers.batches(examples, tokenizer, 16, false, training.seed())
                            .getData(manager)) {
                NDList data = b.getData();
                NDList y = b.getLabels();
                data.attach(manager);
                y.attach(manager);
                inputs.add(data);
                labels.add(y);
            }
            out.add(
                    new LabelledObjective(
                            clf,
                            "",
                            k -> k.startsWith(PREFIX),
                            inputs,
                            labels,
                            Loss.softmaxCrossEntropyLoss()));
        }
        return out;
    }

    private void row(StringBuilder table, String family, String label, List<Double> accuracies) {
        double sum = 0;
        table.append("| ").append(family).append(" | ").append(label).append(" | ");
        for (double a : accuracies) {
            table.append(String.format(Locale.ROOT, "%.2f%% | ", 100 * a));
            sum += a;
        }
        table.append(String.format(Locale.ROOT, "%.2f%% |%n", 100 * sum / accuracies.size()));
        System.out.println(table.substring(table.lastIndexOf("| " + family)));
    }

    /** Runs the evaluation with command-line options. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new MergeEvaluation()).execute(args));
    }
}
