package dev.peft4j.cli;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonObject;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.EmbeddingData;
import dev.peft4j.train.embedding.EmbeddingExample;
import dev.peft4j.train.embedding.EmbeddingRun;
import dev.peft4j.train.embedding.RetrievalData;
import dev.peft4j.train.embedding.SentenceEncoder;
import dev.peft4j.train.embedding.SimilarityEvaluator;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peft eval}: a sentence encoder (pre-trained, with an adapter, or fully fine-tuned
 * weights) on a BEIR retrieval task ({@code --task retrieval}: queries, corpus, qrels; the metrics
 * of sentence-transformers' {@code InformationRetrievalEvaluator}) or on scored pairs ({@code
 * --task similarity}: those of its {@code EmbeddingSimilarityEvaluator}).
 */
@Command(
        name = "eval",
        mixinStandardHelpOptions = true,
        description =
                "Evaluate a sentence encoder (pre-trained, with an adapter, or fine-tuned weights)"
                        + " on a retrieval task or scored pairs.")
public final class EvalCommand implements Callable<Integer> {

    @Option(
            names = "--task",
            defaultValue = "retrieval",
            description =
                    "retrieval (default: --queries, --corpus, --qrels) or similarity (--data with"
                            + " scored pairs: Pearson and Spearman of the cosine)")
    String task;

    @Option(
            names = "--data",
            description = "similarity: JSONL {\"sentence1\", \"sentence2\", \"score\"} rows")
    Path data;

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

    @Option(names = "--queries", description = "retrieval: BEIR queries.jsonl")
    Path queries;

    @Option(names = "--corpus", description = "retrieval: BEIR corpus.jsonl")
    Path corpus;

    @Option(names = "--qrels", description = "retrieval: BEIR qrels TSV")
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
        boolean similarity = task.equals("similarity");
        if (!similarity && !task.equals("retrieval")) {
            throw new IllegalArgumentException(
                    "--task: unknown task '" + task + "'; expected retrieval or similarity");
        }
        if (similarity && (data == null || queries != null || corpus != null || qrels != null)) {
            throw new IllegalArgumentException(
                    "--task similarity reads --data (scored pairs), not"
                            + " --queries/--corpus/--qrels");
        }
        if (adapter != null && weights != null) {
            throw new IllegalArgumentException(
                    "--adapter and --weights exclude each other: give the adapter, or the fully"
                            + " fine-tuned weights");
        }
        PretrainedEncoder encoder = TrainCommand.encoder(model);
        RetrievalData retrieval =
                similarity ? null : EmbeddingTraining.retrieval(queries, corpus, qrels, true);
        List<EmbeddingExample> pairs =
                similarity
                        ? EmbeddingData.readScored(
                                data, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY)
                        : null;
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
            metrics =
                    similarity
                            ? similarity(se, tokenizer, pairs, m)
                            : EmbeddingRun.evaluate(se, tokenizer, retrieval, m);
        }
        if (json) {
            JsonObject o = EmbeddingTraining.metrics(metrics);
            System.out.println(JsonIO.toSortedJson(o));
        } else {
            System.out.printf(
                    Locale.ROOT,
                    "%s%s on %s%n",
                    model,
                    adapter != null ? " + " + adapter : weights != null ? " (" + weights + ")" : "",
                    similarity
                            ? pairs.size() + " scored pairs"
                            : retrieval.relevant().size()
                                    + " queries, "
                                    + retrieval.corpusIds().size()
                                    + " documents");
            metrics.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-14s %.4f%n", k, v));
        }
        return 0;
    }

    private static Map<String, Double> similarity(
            SentenceEncoder se,
            HuggingFaceTokenizer tokenizer,
            List<EmbeddingExample> pairs,
            NDManager m) {
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        double[] gold = new double[pairs.size()];
        for (int i = 0; i < pairs.size(); i++) {
            first.add(pairs.get(i).texts().get(0));
            second.add(pairs.get(i).texts().get(1));
            gold[i] = pairs.get(i).score();
        }
        return SimilarityEvaluator.evaluate(
                se.encode(first, tokenizer, 32, m), se.encode(second, tokenizer, 32, m), gold);
    }
}
