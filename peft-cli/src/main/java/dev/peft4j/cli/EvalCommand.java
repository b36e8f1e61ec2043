package dev.peft4j.cli;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.EmbeddingRun;
import dev.peft4j.train.embedding.RetrievalData;
import dev.peft4j.train.embedding.SentenceEncoder;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peft eval --task retrieval}: the information-retrieval metrics of the pre-trained sentence
 * encoder, or of it with an adapter, on a BEIR task (queries, corpus, qrels), as
 * sentence-transformers' {@code InformationRetrievalEvaluator} reports them.
 */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description = "Evaluate a sentence encoder (with or without adapter) on a retrieval task.")
public final class EvalCommand implements Callable<Integer> {

    @Option(names = "--task", defaultValue = "retrieval", description = "retrieval (the default)")
    String task;

    @Option(
            names = "--model",
            defaultValue = "all-minilm-l6-v2",
            description = "all-minilm-l6-v2 or bge-small-en-v1.5 (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--adapter", description = "adapter folder to apply (default: none)")
    Path adapter;

    @Option(
            names = "--weights",
            description =
                    "a fully fine-tuned encoder's model.safetensors to evaluate instead (peft train"
                            + " --task embedding --full)")
    Path weights;

    @Option(names = "--queries", required = true, description = "BEIR queries.jsonl")
    Path queries;

    @Option(names = "--corpus", required = true, description = "BEIR corpus.jsonl")
    Path corpus;

    @Option(names = "--qrels", required = true, description = "BEIR qrels TSV")
    Path qrels;

    @Option(
            names = "--max-length",
            description =
                    "truncation in tokens (default: the model's sentence-transformers length)")
    Integer maxLength;

    @Option(names = "--json", description = "print the metrics as JSON")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!task.equals("retrieval")) {
            throw new IllegalArgumentException(
                    "--task: only retrieval is evaluated, got '" + task + "'");
        }
        if (adapter != null && weights != null) {
            throw new IllegalArgumentException(
                    "--adapter and --weights exclude each other: give the adapter, or the fully"
                            + " fine-tuned weights");
        }
        PretrainedEncoder encoder = TrainCommand.encoder(model);
        RetrievalData data = EmbeddingTraining.retrieval(queries, corpus, qrels, true);
        Map<String, Double> metrics;
        try (NDManager m = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer =
                        encoder.tokenizer(maxLength != null ? maxLength : encoder.maxSeqLength())) {
            BertModel bert = encoder.load(m, encoder.weights());
            if (adapter != null) {
                PeftModel.load(bert, adapter);
            } else if (weights != null) {
                PretrainedEncoder.loadFineTuned(bert, weights);
            }
            SentenceEncoder se =
                    new SentenceEncoder(
                            bert, encoder.config().hiddenSize(), encoder.pooling(), true);
            metrics = EmbeddingRun.evaluate(se, tokenizer, data, m);
        }
        if (json) {
            JsonObject o = EmbeddingTraining.metrics(metrics);
            System.out.println(JsonIO.toSortedJson(o));
        } else {
            System.out.printf(
                    Locale.ROOT,
                    "%s%s on %d queries, %d documents%n",
                    model,
                    adapter != null ? " + " + adapter : weights != null ? " (" + weights + ")" : "",
                    data.relevant().size(),
                    data.corpusIds().size());
            metrics.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-14s %.4f%n", k, v));
        }
        return 0;
    }
}
