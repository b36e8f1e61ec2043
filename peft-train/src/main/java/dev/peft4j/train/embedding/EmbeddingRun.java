package dev.peft4j.train.embedding;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.google.gson.JsonObject;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.SaveOption;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.train.text.FineTuneRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One embedding fine-tuning, as sentence-transformers' trainer runs it: the pre-trained encoder
 * with an adapter (or every weight, the baseline), its pooling and normalization, a contrastive
 * loss, Adam at a fixed rate, and, when a retrieval task is given, its metrics before and after.
 * The adapter goes to {@code out/adapter} ({@code task_type} FEATURE_EXTRACTION); full
 * fine-tuning writes the encoder's weights to {@code out/model.safetensors}.
 */
public final class EmbeddingRun {

    /** The {@code task_type} of the adapters trained here. */
    public static final String FEATURE_EXTRACTION = "FEATURE_EXTRACTION";

    /** Loads the pre-trained encoder. */
    @FunctionalInterface
    public interface EncoderFactory {
        /** A freshly loaded encoder on {@code manager}. */
        BertModel load(NDManager manager) throws IOException;
    }

    /**
     * What to train.
     *
     * @param adapter the adapter, or null to train every weight
     * @param loss the loss
     * @param pooling the model's pooling
     * @param noDuplicates whether batches hold no text twice (for in-batch-negatives losses)
     * @param settings rows per batch, epochs, steps, learning rate, seed, logging
     */
    public record Spec(
            AdapterConfig adapter,
            Loss loss,
            Pooling pooling,
            boolean noDuplicates,
            FineTuneRun.Settings settings) {}

    /**
     * The outcome.
     *
     * @param losses every step's loss
     * @param trainable trainable parameters
     * @param seconds training time
     * @param before retrieval metrics of the pre-trained model (empty without a task)
     * @param after retrieval metrics after training (empty without a task)
     * @param saved the adapter folder or the weights file
     */
    public record Result(
            List<Float> losses,
            long trainable,
            double seconds,
            Map<String, Double> before,
            Map<String, Double> after,
            Path saved) {}

    /**
     * The loss handed to data-driven initializers: the encoder's output is token states, and the
     * embedding losses compare several columns, so there is no task loss of one forward to
     * differentiate (LoRA-GA); an initializer that only reads activations (EVA) never calls it.
     */
    private static final Loss NO_TASK_LOSS =
            new Loss("no task loss") {
                @Override
                public NDArray evaluate(NDList labels, NDList predictions) {
                    throw new IllegalArgumentException(
                            "This initialization needs the gradient of a task loss on the encoder's"
                                    + " output (LoRA-GA), which contrastive embedding training does"
                                    + " not have: use init_lora_weights true, gaussian, pissa or"
                                    + " eva");
                }
            };

    private EmbeddingRun() {}

    /**
     * The config with {@code task_type} FEATURE_EXTRACTION (PEFT's task type of an encoder adapter
     * without head) where it has none; another task type is refused, since the folder would claim
     * a head it does not have.
     */
    static AdapterConfig featureExtraction(AdapterConfig config) {
        if (FEATURE_EXTRACTION.equals(config.taskType())) {
            return config;
        }
        if (config.taskType() != null) {
            throw new IllegalArgumentException(
                    "task_type '"
                            + config.taskType()
                            + "': an embedding adapter has no head, its task_type is "
                            + FEATURE_EXTRACTION);
        }
        JsonObject json = config.toJson();
        json.addProperty("task_type", FEATURE_EXTRACTION);
        return AdapterMethods.parse(new ConfigJson(json, "the adapter config"));
    }

    /** Trains on {@code rows}; evaluates on {@code task} before and after when it is not null. */
    public static Result run(
            String name,
            EncoderFactory factory,
            long hidden,
            List<EmbeddingExample> rows,
            HuggingFaceTokenizer tokenizer,
            Spec spec,
            RetrievalData task,
            Path out)
            throws IOException {
        return run(name, factory, hidden, rows, tokenizer, spec, task, true, out);
    }

    /**
     * Trains on {@code rows}; evaluates on {@code task} after training when it is not null, and
     * before when {@code evaluateBefore} (the pre-trained model's metrics, the same for every run
     * of one model, so a comparison of several runs needs them once).
     */
    public static Result run(
            String name,
            EncoderFactory factory,
            long hidden,
            List<EmbeddingExample> rows,
            HuggingFaceTokenizer tokenizer,
            Spec spec,
            RetrievalData task,
            boolean evaluateBefore,
            Path out)
            throws IOException {
        FineTuneRun.Settings s = spec.settings();
        Engine.getInstance().setRandomSeed((int) s.seed());
        EmbeddingBatcher.Builder data =
                EmbeddingBatcher.builder().setRows(rows).setTokenizer(tokenizer);
        EmbeddingBatcher train =
                spec.noDuplicates()
                        ? data.setNoDuplicatesBatching(s.batchSize(), s.seed()).build()
                        : data.setBatching(s.batchSize(), true, s.seed()).build();
        try (NDManager manager = NDManager.newBaseManager();
                Model djl = Model.newInstance(name)) {
            BertModel bert = factory.load(manager);
            SentenceEncoder encoder = new SentenceEncoder(bert, hidden, spec.pooling(), true);
            Map<String, Double> before =
                    task == null || !evaluateBefore
                            ? Map.of()
                            : evaluate(encoder, tokenizer, task, manager);
            PeftModel pm =
                    spec.adapter() == null
                            ? null
                            : PeftModel.create(bert, featureExtraction(spec.adapter()));
            if (pm != null) {
                // EVA reads layer inputs of the first column; LoRA-GA's task loss is refused
                pm.initializeFromData(PeftModel.DEFAULT, train.getData(manager), NO_TASK_LOSS);
            }
            djl.setBlock(encoder);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(spec.loss())
                            .optOptimizer(
                                    Optimizer.adam()
                                            .optLearningRateTracker(Tracker.fixed(s.learningRate()))
                                            .build());
            long trainable = pm != null ? pm.trainableParameterCount() : size(bert);
            System.out.printf(Locale.ROOT, "[%s] trainable parameters: %,d%n", name, trainable);
            long start = System.nanoTime();
            List<Float> losses;
            try (Trainer trainer = pm != null ? pm.newTrainer(djl, cfg) : djl.newTrainer(cfg)) {
                losses = FineTuneRun.loop(trainer, train, s, name).build().run();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            Map<String, Double> after =
                    task == null ? Map.of() : evaluate(encoder, tokenizer, task, manager);
            Files.createDirectories(out);
            Path saved;
            if (pm != null) {
                saved = out.resolve("adapter");
                pm.save(saved, SaveOption.FOR_ORIGINAL_BASE);
            } else {
                saved = out.resolve("model.safetensors");
                HfWeights.save(bert, saved);
            }
            return new Result(losses, trainable, seconds, before, after, saved);
        }
    }

    /** Every weight of a model (full fine-tuning trains them all). */
    private static long size(BertModel bert) {
        long n = 0;
        for (Parameter p : bert.getParameters().values()) {
            n += p.getArray().size();
        }
        return n;
    }

    /** The retrieval metrics of an encoder on a task (query and corpus batches of 32). */
    public static Map<String, Double> evaluate(
            SentenceEncoder encoder,
            HuggingFaceTokenizer tokenizer,
            RetrievalData task,
            NDManager manager) {
        float[][] q = encoder.encode(task.queries(), tokenizer, 32, manager);
        float[][] c = encoder.encode(task.corpus(), tokenizer, 32, manager);
        return new LinkedHashMap<>(
                RetrievalEvaluator.evaluate(
                        task.queryIds(), q, task.corpusIds(), c, task.relevant(), manager));
    }
}
