package dev.peft4j.models.export;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsWriter;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.io.HfStateDict;
import dev.peft4j.models.onnx.OnnxWeights;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a merged model as a folder that transformers or sentence-transformers load as it is and
 * that computes there what the model computed here. Which layout is faithful depends on the head:
 *
 * <ul>
 *   <li>a classifier on {@code bert.pooler} ({@link Pooling#POOLER}): transformers' {@code
 *       BertForSequenceClassification} ({@link Form#TRANSFORMERS_SEQUENCE_CLASSIFICATION}), whose
 *       forward is exactly {@code classifier(tanh(pooler(h[CLS])))};
 *   <li>a classifier on mean or CLS pooling: a sentence-transformers pipeline Transformer, Pooling,
 *       Dense (identity activation: the classifier) whose {@code encode} returns the logits ({@link
 *       Form#SENTENCE_TRANSFORMERS_CLASSIFIER}); transformers has no sequence classifier that
 *       pools so, and a {@code BertForSequenceClassification} config would compute something else;
 *   <li>an encoder without head: the base's sentence-transformers pipeline (Transformer, its
 *       Pooling, Normalize) ({@link Form#SENTENCE_TRANSFORMERS_ENCODER}).
 * </ul>
 *
 * <p>Every folder holds the tokenizer files ({@link TokenizerFiles}) and a {@code config.json} with
 * {@code architectures}, {@code torch_dtype} and {@code dtype}, and, with a head, {@code id2label}
 * and {@code label2id}. The sentence-transformers folders keep the encoder at the root, so
 * transformers' {@code AutoModel} loads it too; their {@code pooler} (which mean and CLS pooling do
 * not use, and which these checkpoints lack) is written as zeros, so that the encoder loads with no
 * missing weights, and its {@code pooler_output} is then zero rather than random.
 */
public final class ModelExport {

    /** The layout asked for. */
    public enum Format {
        /** The faithful layout for the head (see the class comment). */
        AUTO,
        /** transformers' {@code BertForSequenceClassification}: only for a head on the pooler. */
        TRANSFORMERS,
        /** A sentence-transformers pipeline: for every head. */
        SENTENCE_TRANSFORMERS,
        /**
         * The base's own ONNX graph with the merged weights as its initializers: for an encoder
         * without head.
         */
        ONNX,
        /**
         * The merged weights in transformers' layout ({@code config.json}, {@code
         * model.safetensors}): a {@code BertModel} for an encoder, as {@link #TRANSFORMERS} for a
         * classifier.
         */
        SAFETENSORS;

        /**
         * The format of a name: {@code auto}, {@code transformers}, {@code sentence-transformers},
         * {@code onnx}, {@code safetensors}.
         */
        public static Format parse(String name) {
            for (Format f : values()) {
                if (f.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(name)) {
                    return f;
                }
            }
            throw new IllegalArgumentException(
                    "--format: unknown format '"
                            + name
                            + "'; expected auto, transformers, sentence-transformers, onnx or"
                            + " safetensors");
        }
    }

    /** The layout written. */
    public enum Form {
        /** transformers' {@code BertForSequenceClassification}. */
        TRANSFORMERS_SEQUENCE_CLASSIFICATION,
        /** sentence-transformers Transformer, Pooling, Dense modules; {@code encode} gives logits. */
        SENTENCE_TRANSFORMERS_CLASSIFIER,
        /** sentence-transformers Transformer, Pooling (and Normalize) modules. */
        SENTENCE_TRANSFORMERS_ENCODER,
        /** The base's ONNX graph ({@code model.onnx}) with the merged weights, and the tokenizer. */
        ONNX_ENCODER,
        /** transformers' {@code BertModel}: {@code config.json}, {@code model.safetensors}. */
        TRANSFORMERS_ENCODER
    }

    private static final String ST = "sentence_transformers.models.";
    private static final String IDENTITY = "torch.nn.modules.linear.Identity";
    private static final String TANH = "torch.nn.modules.activation.Tanh";
    private static final String WEIGHTS = "model.safetensors";

    /** The file name of the ONNX form's model. */
    public static final String ONNX_FILE = "model.onnx";

    private ModelExport() {}

    /**
     * Exports a merged sequence classifier.
     *
     * @param merged the classifier, adapters merged and unloaded
     * @param config its encoder config
     * @param head the head's pooling, labels and truncation length
     * @param format the layout asked for
     * @param tokenizerJson the base's {@code tokenizer.json}
     * @param tokenizerOrigin where it came from, for errors
     * @param out the folder, published atomically
     * @return the layout written
     * @throws IllegalArgumentException when the head and the model disagree, or the format cannot
     *     compute this head
     */
    public static Form classifier(
            BertForSequenceClassification merged,
            BertConfig config,
            HeadConfig head,
            Format format,
            String tokenizerJson,
            String tokenizerOrigin,
            Path out)
            throws IOException {
        Map<String, Parameter> state = HfStateDict.of(merged);
        if (merged.pooling() != head.pooling()) {
            throw new IllegalArgumentException(
                    "The head was trained on "
                            + HeadConfig.poolingName(head.pooling())
                            + " pooling but the model pools by "
                            + HeadConfig.poolingName(merged.pooling()));
        }
        int classes = (int) state.get("classifier.weight").getArray().getShape().get(0);
        if (classes != head.labels().size()) {
            throw new IllegalArgumentException(
                    "The classifier has "
                            + classes
                            + " classes but the head config names "
                            + head.labels().size()
                            + " labels "
                            + head.labels());
        }
        if (format == Format.ONNX) {
            throw new IllegalArgumentException(
                    "--format onnx writes the base's own ONNX graph, which has no classifier head:"
                            + " export a classifier with --format transformers or"
                            + " sentence-transformers");
        }
        if (format == Format.SAFETENSORS) {
            format = Format.TRANSFORMERS;
        }
        if (format == Format.TRANSFORMERS && head.pooling() != Pooling.POOLER) {
            throw new IllegalArgumentException(
                    "transformers' BertForSequenceClassification classifies tanh(pooler(h[CLS]))"
                            + " but this head was trained on "
                            + HeadConfig.poolingName(head.pooling())
                            + " pooling, which it cannot compute: export with --format"
                            + " sentence-transformers (or train with --pooling pooler)");
        }
        boolean transformers =
                head.pooling() == Pooling.POOLER && format != Format.SENTENCE_TRANSFORMERS;
        AtomicFiles.publishDirectory(
                out,
                staging -> {
                    TokenizerFiles.write(tokenizerJson, tokenizerOrigin, head.maxLength(), staging);
                    if (transformers) {
                        JsonObject c = config(config, "BertForSequenceClassification");
                        c.add("id2label", head.id2label());
                        c.add("label2id", head.label2id());
                        c.addProperty("problem_type", "single_label_classification");
                        JsonIO.writeSorted(staging.resolve("config.json"), c);
                        writeTensors(staging.resolve(WEIGHTS), arrays(state, ""));
                        return;
                    }
                    JsonObject c = config(config, "BertModel");
                    c.add("id2label", head.id2label());
                    c.add("label2id", head.label2id());
                    LinkedHashMap<String, NDArray> encoder =
                            arrays(state, BertForSequenceClassification.BASE_MODEL_PREFIX);
                    Pooling stPooling =
                            head.pooling() == Pooling.POOLER ? Pooling.CLS : head.pooling();
                    List<String> modules = new ArrayList<>();
                    try (NDManager scratch = NDManager.newBaseManager()) {
                        writeEncoder(staging, c, encoder, config, head.maxLength(), scratch);
                        modules.add(pooling(staging, 1, stPooling, config.hiddenSize()));
                        int next = 2;
                        if (head.pooling() == Pooling.POOLER) {
                            modules.add(
                                    dense(
                                            staging,
                                            next++,
                                            state.get("bert.pooler.dense.weight").getArray(),
                                            state.get("bert.pooler.dense.bias").getArray(),
                                            TANH));
                        }
                        modules.add(
                                dense(
                                        staging,
                                        next,
                                        state.get("classifier.weight").getArray(),
                                        state.get("classifier.bias").getArray(),
                                        IDENTITY));
                    }
                    writeModules(staging, modules);
                });
        return transformers
                ? Form.TRANSFORMERS_SEQUENCE_CLASSIFICATION
                : Form.SENTENCE_TRANSFORMERS_CLASSIFIER;
    }

    /**
     * Exports a merged encoder as a sentence-transformers model ({@link Format#AUTO}, {@link
     * Format#SENTENCE_TRANSFORMERS}) or as transformers' {@code BertModel} ({@link
     * Format#TRANSFORMERS}, {@link Format#SAFETENSORS}); {@link #onnx} writes the ONNX form.
     *
     * @param merged the encoder, adapters merged and unloaded
     * @param config its config
     * @param pooling the sentence pooling ({@link Pooling#MEAN} or {@link Pooling#CLS})
     * @param normalize whether embeddings are L2-normalized
     * @param maxSeqLength the truncation length in tokens
     * @param tokenizerJson the base's {@code tokenizer.json}
     * @param tokenizerOrigin where it came from, for errors
     * @param format the layout asked for
     * @param out the folder, published atomically
     * @return the layout written
     */
    public static Form encoder(
            BertModel merged,
            BertConfig config,
            Pooling pooling,
            boolean normalize,
            int maxSeqLength,
            String tokenizerJson,
            String tokenizerOrigin,
            Format format,
            Path out)
            throws IOException {
        if (pooling == Pooling.POOLER) {
            throw new IllegalArgumentException(
                    "A sentence encoder pools by mean or cls, not by the pooler");
        }
        if (format == Format.ONNX) {
            throw new IllegalArgumentException(
                    "The ONNX form needs the base's ONNX graph: call ModelExport.onnx");
        }
        Map<String, Parameter> state = HfStateDict.of(merged);
        if (format == Format.TRANSFORMERS || format == Format.SAFETENSORS) {
            AtomicFiles.publishDirectory(
                    out,
                    staging -> {
                        TokenizerFiles.write(tokenizerJson, tokenizerOrigin, maxSeqLength, staging);
                        JsonIO.writeSorted(
                                staging.resolve("config.json"), config(config, "BertModel"));
                        try (NDManager scratch = NDManager.newBaseManager()) {
                            LinkedHashMap<String, NDArray> tensors = arrays(state, "");
                            zeroPooler(tensors, config, scratch);
                            writeTensors(staging.resolve(WEIGHTS), tensors);
                        }
                    });
            return Form.TRANSFORMERS_ENCODER;
        }
        AtomicFiles.publishDirectory(
                out,
                staging -> {
                    TokenizerFiles.write(tokenizerJson, tokenizerOrigin, maxSeqLength, staging);
                    List<String> modules = new ArrayList<>();
                    try (NDManager scratch = NDManager.newBaseManager()) {
                        writeEncoder(
                                staging,
                                config(config, "BertModel"),
                                arrays(state, ""),
                                config,
                                maxSeqLength,
                                scratch);
                    }
                    modules.add(pooling(staging, 1, pooling, config.hiddenSize()));
                    if (normalize) {
                        Files.createDirectories(staging.resolve("2_Normalize"));
                        modules.add(module(2, "2_Normalize", "Normalize"));
                    }
                    writeModules(staging, modules);
                });
        return Form.SENTENCE_TRANSFORMERS_ENCODER;
    }

    /** {@code config.json}: the encoder config with {@code architectures} and the weights' dtype. */
    private static JsonObject config(BertConfig config, String architecture) {
        JsonObject c = JsonParser.parseString(config.toJson()).getAsJsonObject();
        JsonArray arch = new JsonArray();
        arch.add(architecture);
        c.add("architectures", arch);
        c.addProperty("torch_dtype", "float32"); // transformers 4.x
        c.addProperty("dtype", "float32"); // transformers 5
        return c;
    }

    /** Tensors by name, {@code prefix} removed from names that have it, others left out. */
    private static LinkedHashMap<String, NDArray> arrays(
            Map<String, Parameter> state, String prefix) {
        LinkedHashMap<String, NDArray> out = new LinkedHashMap<>();
        state.forEach(
                (k, p) -> {
                    if (k.startsWith(prefix)) {
                        out.put(k.substring(prefix.length()), p.getArray());
                    }
                });
        return out;
    }

    /**
     * The sentence-transformers Transformer module at the root: {@code config.json}, the encoder's
     * weights (a zero {@code pooler} where it has none), {@code sentence_bert_config.json}.
     */
    private static void writeEncoder(
            Path dir,
            JsonObject config,
            LinkedHashMap<String, NDArray> encoder,
            BertConfig bert,
            int maxSeqLength,
            NDManager scratch)
            throws IOException {
        zeroPooler(encoder, bert, scratch);
        JsonIO.writeSorted(dir.resolve("config.json"), config);
        writeTensors(dir.resolve(WEIGHTS), encoder);
        JsonObject sbert = new JsonObject();
        sbert.addProperty("max_seq_length", maxSeqLength);
        sbert.addProperty("do_lower_case", false); // the tokenizer lower-cases itself
        JsonIO.writeSorted(dir.resolve("sentence_bert_config.json"), sbert);
        JsonObject st = new JsonObject();
        st.addProperty("model_type", "SentenceTransformer");
        st.add("prompts", new JsonObject());
        st.add("default_prompt_name", JsonNull.INSTANCE);
        st.addProperty("similarity_fn_name", "cosine");
        JsonIO.writeSorted(dir.resolve("config_sentence_transformers.json"), st);
    }

    /** Adds a zero {@code pooler} where the encoder has none (see the class comment). */
    private static void zeroPooler(
            LinkedHashMap<String, NDArray> encoder, BertConfig bert, NDManager scratch) {
        long h = bert.hiddenSize();
        if (!encoder.containsKey("pooler.dense.weight")) {
            encoder.put("pooler.dense.weight", scratch.zeros(new Shape(h, h), DataType.FLOAT32));
            encoder.put("pooler.dense.bias", scratch.zeros(new Shape(h), DataType.FLOAT32));
        }
    }

    /**
     * Exports a merged encoder as the base's own ONNX graph with the merged weights written into its
     * initializers ({@link OnnxWeights#withValues}): {@code model.onnx} (float32, the same nodes,
     * inputs and outputs as the base's file, so ONNX Runtime, LangChain4j's {@code
     * OnnxEmbeddingModel} or Spring AI run it as they ran the base), the tokenizer files, and a
     * sentence-transformers {@code 1_Pooling/config.json} saying how the token states are pooled
     * (the graph outputs token states; the runtime pools and normalizes).
     *
     * @param merged the encoder, adapters merged and unloaded
     * @param base the base's ONNX weights, read from the file whose graph is reused
     * @param config its config
     * @param pooling the sentence pooling ({@link Pooling#MEAN} or {@link Pooling#CLS})
     * @param maxSeqLength the truncation length of the exported tokenizer
     * @param tokenizerJson the base's {@code tokenizer.json}
     * @param tokenizerOrigin where it came from, for errors
     * @param out the folder, published atomically
     * @return {@link Form#ONNX_ENCODER}
     * @throws IllegalArgumentException when a weight of the model has no initializer in the graph
     */
    public static Form onnx(
            BertModel merged,
            OnnxWeights base,
            BertConfig config,
            Pooling pooling,
            int maxSeqLength,
            String tokenizerJson,
            String tokenizerOrigin,
            Path out)
            throws IOException {
        if (pooling == Pooling.POOLER) {
            throw new IllegalArgumentException(
                    "A sentence encoder pools by mean or cls, not by the pooler");
        }
        Map<String, NDArray> values = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : HfStateDict.of(merged).entrySet()) {
            if (!base.contains(e.getKey())) {
                throw new IllegalArgumentException(
                        base
                                + ": the graph has no initializer for the model's weight '"
                                + e.getKey()
                                + "', so the ONNX form cannot carry it");
            }
            values.put(e.getKey(), e.getValue().getArray());
        }
        byte[] model = base.withValues(values);
        AtomicFiles.publishDirectory(
                out,
                staging -> {
                    AtomicFiles.writeBytes(staging.resolve(ONNX_FILE), model);
                    TokenizerFiles.write(tokenizerJson, tokenizerOrigin, maxSeqLength, staging);
                    pooling(staging, 1, pooling, config.hiddenSize());
                });
        return Form.ONNX_ENCODER;
    }

    /** A Pooling module folder; returns its modules.json entry. */
    private static String pooling(Path dir, int idx, Pooling pooling, long hidden)
            throws IOException {
        String path = idx + "_Pooling";
        Files.createDirectories(dir.resolve(path));
        JsonObject c = new JsonObject();
        c.addProperty("word_embedding_dimension", hidden);
        c.addProperty("pooling_mode_cls_token", pooling == Pooling.CLS);
        c.addProperty("pooling_mode_mean_tokens", pooling == Pooling.MEAN);
        c.addProperty("pooling_mode_max_tokens", false);
        c.addProperty("pooling_mode_mean_sqrt_len_tokens", false);
        c.addProperty("pooling_mode_weightedmean_tokens", false);
        c.addProperty("pooling_mode_lasttoken", false);
        c.addProperty("include_prompt", true);
        JsonIO.writeSorted(dir.resolve(path).resolve("config.json"), c);
        return module(idx, path, "Pooling");
    }

    /** A Dense module folder ({@code linear.weight}, {@code linear.bias}); returns its entry. */
    private static String dense(Path dir, int idx, NDArray weight, NDArray bias, String activation)
            throws IOException {
        String path = idx + "_Dense";
        Files.createDirectories(dir.resolve(path));
        JsonObject c = new JsonObject();
        c.addProperty("in_features", weight.getShape().get(1));
        c.addProperty("out_features", weight.getShape().get(0));
        c.addProperty("bias", true);
        c.addProperty("activation_function", activation);
        JsonIO.writeSorted(dir.resolve(path).resolve("config.json"), c);
        LinkedHashMap<String, NDArray> t = new LinkedHashMap<>();
        t.put("linear.weight", weight);
        t.put("linear.bias", bias);
        writeTensors(dir.resolve(path).resolve(WEIGHTS), t);
        return module(idx, path, "Dense");
    }

    private static String module(int idx, String path, String type) {
        JsonObject m = new JsonObject();
        m.addProperty("idx", idx);
        m.addProperty("name", Integer.toString(idx));
        m.addProperty("path", path);
        m.addProperty("type", ST + type);
        return m.toString();
    }

    private static void writeModules(Path dir, List<String> rest) throws IOException {
        JsonArray modules = new JsonArray();
        modules.add(JsonParser.parseString(module(0, "", "Transformer")));
        rest.forEach(m -> modules.add(JsonParser.parseString(m)));
        AtomicFiles.writeBytes(
                dir.resolve("modules.json"),
                (JsonIO.toSortedJson(modules) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void writeTensors(Path file, LinkedHashMap<String, NDArray> tensors)
            throws IOException {
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
    }
}
