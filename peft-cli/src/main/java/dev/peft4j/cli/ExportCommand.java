package dev.peft4j.cli;

import ai.djl.ndarray.NDManager;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.export.HeadConfig;
import dev.peft4j.models.export.ModelExport;
import dev.peft4j.models.onnx.OnnxWeights;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peft export}: merges an adapter into its pre-trained base and writes a model folder that
 * transformers or sentence-transformers load and that predicts there what it predicted here
 * ({@link ModelExport}), published atomically. The head's pooling, labels and truncation length
 * come from the adapter's {@code head_config.json} (written by {@code peft train}), or from
 * {@code --pooling}, {@code --labels} and {@code --max-length} for an adapter without one.
 */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description =
                "Merge an adapter into its base model and write a transformers or"
                        + " sentence-transformers model folder.")
public final class ExportCommand implements Callable<Integer> {

    private static final String HEAD_KEY = AdapterCheckpoint.PREFIX + "classifier.weight";
    private static final String POOLER_KEY = AdapterCheckpoint.PREFIX + "bert.pooler.dense.weight";

    @Option(
            names = "--model",
            defaultValue = "all-minilm-l6-v2",
            description =
                    "pre-trained base: all-minilm-l6-v2 or bge-small-en-v1.5 (default:"
                            + " ${DEFAULT-VALUE})")
    String model;

    @Option(
            names = "--adapter",
            description = "adapter folder (adapter_config.json + adapter_model.safetensors)")
    Path adapter;

    @Option(
            names = "--weights",
            description =
                    "instead of --adapter: a fully fine-tuned encoder's model.safetensors (peft"
                            + " train --task embedding --full)")
    Path weights;

    @Option(
            names = {"-o", "--out"},
            required = true,
            description = "output model folder")
    Path out;

    @Option(
            names = "--format",
            defaultValue = "auto",
            description =
                    "auto (default: transformers for a head on the pooler, sentence-transformers"
                            + " otherwise), transformers, sentence-transformers, onnx (an encoder:"
                            + " the base's ONNX graph with the merged weights) or safetensors"
                            + " (transformers layout)")
    String format;

    @Option(
            names = "--pooling",
            description =
                    "the head's pooling (mean, cls, pooler) when the adapter has no"
                            + " head_config.json; must agree with it otherwise")
    String pooling;

    @Option(
            names = "--labels",
            split = ",",
            description = "class labels in index order (default: head_config.json, or LABEL_i)")
    List<String> labels;

    @Option(
            names = "--max-length",
            description =
                    "truncation length of the exported tokenizer (default: head_config.json, or"
                            + " the base's sentence-transformers max_seq_length)")
    Integer maxLength;

    @Option(names = "--force", description = "replace an existing, non-empty output folder")
    boolean force;

    @Override
    public Integer call() throws Exception {
        if (!force && Files.isDirectory(out)) {
            try (Stream<Path> entries = Files.list(out)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException(
                            out
                                    + ": the output folder exists and is not empty; pass --force"
                                    + " to replace it");
                }
            }
        } else if (!force && Files.exists(out)) {
            throw new IllegalArgumentException(out + ": exists and is not a folder");
        }
        if ((adapter == null) == (weights == null)) {
            throw new IllegalArgumentException(
                    "give one of --adapter (an adapter folder) or --weights (a fine-tuned"
                            + " encoder's model.safetensors)");
        }
        PretrainedEncoder encoder = TrainCommand.encoder(model);
        ModelExport.Format fmt = ModelExport.Format.parse(format);
        int classes = adapter == null ? 0 : headLabels(adapter);
        String tokenizerOrigin = "class-path resource " + encoder.tokenizerResource();
        ModelExport.Form form;
        try (NDManager manager = NDManager.newBaseManager()) {
            OnnxWeights base = encoder.weights();
            if (classes > 0) {
                HeadConfig head = head(encoder, classes);
                if (head.pooling() == Pooling.POOLER
                        && !PretrainedEncoder.hasPooler(base)
                        && !adapterHas(adapter, POOLER_KEY)) {
                    throw new IllegalArgumentException(
                            adapter.resolve(AdapterCheckpoint.WEIGHTS_FILE)
                                    + ": the head pools by the pooler, but neither the adapter"
                                    + " nor "
                                    + model
                                    + " holds bert.pooler weights (train with --pooling pooler,"
                                    + " which saves them)");
                }
                BertForSequenceClassification classifier =
                        encoder.loadForClassification(manager, base, classes, head.pooling());
                BertForSequenceClassification merged =
                        (BertForSequenceClassification)
                                PeftModel.load(classifier, adapter).mergeAndUnload();
                form =
                        ModelExport.classifier(
                                merged,
                                encoder.config(),
                                head,
                                fmt,
                                encoder.tokenizerJson(),
                                tokenizerOrigin,
                                out);
            } else {
                if (pooling != null || labels != null) {
                    throw new IllegalArgumentException(
                            (adapter != null ? adapter : weights)
                                    + ": the model has no classifier, so --pooling and --labels"
                                    + " do not apply (an encoder exports with "
                                    + model
                                    + "'s own pooling)");
                }
                BertModel merged = mergedEncoder(encoder, base, manager);
                int length = maxLength != null ? maxLength : encoder.maxSeqLength();
                form =
                        fmt == ModelExport.Format.ONNX
                                ? ModelExport.onnx(
                                        merged,
                                        base,
                                        encoder.config(),
                                        encoder.pooling(),
                                        length,
                                        encoder.tokenizerJson(),
                                        tokenizerOrigin,
                                        out)
                                : ModelExport.encoder(
                                        merged,
                                        encoder.config(),
                                        encoder.pooling(),
                                        true,
                                        length,
                                        encoder.tokenizerJson(),
                                        tokenizerOrigin,
                                        fmt,
                                        out);
            }
        }
        System.out.println(
                (adapter != null ? "merged " + adapter : "exported " + weights)
                        + " into "
                        + model
                        + " -> "
                        + out.toAbsolutePath()
                        + " ("
                        + describe(form)
                        + ")");
        return 0;
    }

    /** The head config: the adapter's file with the flags checked against it, or the flags. */
    private HeadConfig head(PretrainedEncoder encoder, int classes) throws Exception {
        HeadConfig saved = HeadConfig.read(adapter);
        Pooling asked = pooling == null ? null : HeadConfig.parsePooling(pooling, "--pooling");
        if (saved == null && asked == null) {
            throw new IllegalArgumentException(
                    adapter
                            + ": no "
                            + HeadConfig.FILE
                            + " (peft train writes one) says how the head pools: pass --pooling"
                            + " mean, cls or pooler");
        }
        if (saved != null && asked != null && asked != saved.pooling()) {
            throw new IllegalArgumentException(
                    "--pooling "
                            + pooling
                            + ": the head was trained on "
                            + HeadConfig.poolingName(saved.pooling())
                            + " pooling ("
                            + adapter.resolve(HeadConfig.FILE)
                            + "); exporting it as "
                            + pooling
                            + " would compute something else");
        }
        List<String> names = labels;
        if (names == null) {
            names = saved != null ? saved.labels() : defaultLabels(classes);
        }
        if (names.size() != classes) {
            throw new IllegalArgumentException(
                    (labels != null ? "--labels" : adapter.resolve(HeadConfig.FILE).toString())
                            + ": "
                            + names.size()
                            + " labels "
                            + names
                            + " for a classifier of "
                            + classes
                            + " classes");
        }
        int length =
                maxLength != null
                        ? maxLength
                        : saved != null ? saved.maxLength() : encoder.maxSeqLength();
        return new HeadConfig(asked != null ? asked : saved.pooling(), names, length);
    }

    private static List<String> defaultLabels(int classes) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < classes; i++) {
            out.add("LABEL_" + i); // transformers' default id2label
        }
        return out;
    }

    private static String describe(ModelExport.Form form) {
        switch (form) {
            case TRANSFORMERS_SEQUENCE_CLASSIFICATION:
                return "transformers BertForSequenceClassification";
            case SENTENCE_TRANSFORMERS_CLASSIFIER:
                return "sentence-transformers Transformer + Pooling + Dense: encode() gives logits";
            case ONNX_ENCODER:
                return "the base's ONNX graph with the merged weights, for ONNX Runtime and"
                        + " LangChain4j's OnnxEmbeddingModel";
            case TRANSFORMERS_ENCODER:
                return "transformers BertModel";
            default:
                return "sentence-transformers encoder; the root also loads with transformers"
                        + " AutoModel";
        }
    }

    /** The encoder with the adapter merged, or with the fully fine-tuned weights loaded. */
    private BertModel mergedEncoder(PretrainedEncoder encoder, OnnxWeights base, NDManager manager)
            throws Exception {
        BertModel bert = encoder.load(manager, base);
        if (adapter != null) {
            return (BertModel) PeftModel.load(bert, adapter).mergeAndUnload();
        }
        PretrainedEncoder.loadFineTuned(bert, weights);
        return bert;
    }

    /** The number of classes of the adapter's saved classification head, or 0 when it has none. */
    static int headLabels(Path adapter) throws Exception {
        try (SafetensorsReader r =
                SafetensorsReader.open(adapter.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
            return r.contains(HEAD_KEY) ? (int) r.info(HEAD_KEY).shape().get(0) : 0;
        }
    }

    private static boolean adapterHas(Path adapter, String key) throws Exception {
        try (SafetensorsReader r =
                SafetensorsReader.open(adapter.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
            return r.contains(key);
        }
    }
}
