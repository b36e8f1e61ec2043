package dev.peft4j.examples.bench;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.peft4j.examples.data.DataCache;
import dev.peft4j.examples.data.StateOfTheUnion;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.SentenceEncoder;
import dev.peft4j.train.text.TokenBatch;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Sentence-embedding throughput of our DJL forward (tokenize, encoder, pooling, normalize) against
 * ONNX Runtime running the model's own ONNX file with the same tokenization, pooling and
 * normalization in Java, on the same threads: real sentences of the State of the Union, batch 32,
 * each engine warmed up by one pass, then the median of three timed passes. Also prints the largest
 * difference between the two embeddings (they compute the same model).
 *
 * <p>Args: {@code [--model all-minilm-l6-v2|bge-small-en-v1.5|all] [--sentences N]} (defaults
 * all, 1024).
 */
public final class EmbeddingThroughputBenchmark {

    private static final int BATCH = 32;

    private EmbeddingThroughputBenchmark() {}

    /** Runs the benchmark. */
    public static void main(String[] args) throws Exception {
        String which = "all";
        int count = 1024;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model":
                    which = args[++i];
                    break;
                case "--sentences":
                    count = Integer.parseInt(args[++i]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        List<String> sentences = sentences(count);
        int threads = Runtime.getRuntime().availableProcessors();
        System.out.printf(
                Locale.ROOT,
                "Embedding throughput: %d State of the Union sentences, batch %d, %d threads"
                        + " (DJL/libtorch and ONNX Runtime intra-op)%n",
                sentences.size(),
                BATCH,
                threads);
        System.out.printf(
                Locale.ROOT,
                "%-20s %14s %14s %8s %12s%n",
                "model",
                "DJL sent/s",
                "ORT sent/s",
                "DJL/ORT",
                "max |diff|");
        for (PretrainedEncoder model : PretrainedEncoder.values()) {
            if (which.equals("all") || which.equals(model.modelName())) {
                run(model, sentences, threads);
            }
        }
    }

    private static void run(PretrainedEncoder model, List<String> sentences, int threads)
            throws Exception {
        byte[] onnx;
        try (InputStream in =
                EmbeddingThroughputBenchmark.class
                        .getClassLoader()
                        .getResourceAsStream(model.onnxResource())) {
            onnx = in.readAllBytes();
        }
        float[][][] out = new float[2][][];
        double djl;
        double ort;
        try (NDManager m = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer = model.tokenizer(model.maxSeqLength())) {
            SentenceEncoder encoder =
                    new SentenceEncoder(
                            model.load(m, model.weights()),
                            model.config().hiddenSize(),
                            model.pooling(),
                            true);
            djl =
                    BenchTimer.medianMillis(
                            1, 3, () -> out[0] = encoder.encode(sentences, tokenizer, BATCH, m));
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
                options.setIntraOpNumThreads(threads);
                options.setInterOpNumThreads(1);
                try (OrtSession session = env.createSession(onnx, options)) {
                    ort =
                            BenchTimer.medianMillis(
                                    1,
                                    3,
                                    () ->
                                            out[1] =
                                                    onnxRuntime(
                                                            env, session, tokenizer, sentences,
                                                            model));
                }
            }
        }
        double diff = 0;
        for (int i = 0; i < sentences.size(); i++) {
            for (int j = 0; j < out[0][i].length; j++) {
                diff = Math.max(diff, Math.abs(out[0][i][j] - out[1][i][j]));
            }
        }
        double djlRate = sentences.size() / (djl / 1000);
        double ortRate = sentences.size() / (ort / 1000);
        System.out.printf(
                Locale.ROOT,
                "%-20s %14.1f %14.1f %8.2f %12.2e%n",
                model.modelName(),
                djlRate,
                ortRate,
                djlRate / ortRate,
                diff);
    }

    /** Tokenize, run, pool and normalize, batch by batch, as SentenceEncoder.encode does. */
    private static float[][] onnxRuntime(
            OrtEnvironment env,
            OrtSession session,
            HuggingFaceTokenizer tokenizer,
            List<String> sentences,
            PretrainedEncoder model)
            throws Exception {
        float[][] out = new float[sentences.size()][];
        for (int from = 0; from < sentences.size(); from += BATCH) {
            List<String> chunk = sentences.subList(from, Math.min(sentences.size(), from + BATCH));
            TokenBatch b = TokenBatch.encode(tokenizer, chunk, model.config().padTokenId());
            try (OnnxTensor ids = OnnxTensor.createTensor(env, b.inputIds());
                    OnnxTensor mask = OnnxTensor.createTensor(env, b.attentionMask());
                    OnnxTensor types = OnnxTensor.createTensor(env, b.tokenTypeIds());
                    OrtSession.Result r =
                            session.run(
                                    Map.of(
                                            "input_ids",
                                            ids,
                                            "attention_mask",
                                            mask,
                                            "token_type_ids",
                                            types))) {
                float[][][] h = (float[][][]) r.get("last_hidden_state").orElseThrow().getValue();
                for (int i = 0; i < chunk.size(); i++) {
                    out[from + i] = pool(h[i], b.tokens(i), model);
                }
            }
        }
        return out;
    }

    private static float[] pool(float[][] tokens, int real, PretrainedEncoder model) {
        int n = model.pooling() == dev.peft4j.models.bert.Pooling.MEAN ? real : 1;
        float[] v = new float[tokens[0].length];
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < v.length; j++) {
                v[j] += tokens[t][j];
            }
        }
        double norm = 0;
        for (int j = 0; j < v.length; j++) {
            v[j] /= n;
            norm += v[j] * v[j];
        }
        float scale = (float) (1 / Math.max(Math.sqrt(norm), 1e-12));
        for (int j = 0; j < v.length; j++) {
            v[j] *= scale;
        }
        return v;
    }

    /** Real sentences of 5 words or more, from the addresses in year order. */
    private static List<String> sentences(int count) {
        List<String> out = new ArrayList<>();
        for (StateOfTheUnion.Address a : StateOfTheUnion.loadAddresses(DataCache.ensure("sotu"))) {
            for (String s : StateOfTheUnion.sentences(a.text())) {
                if (s.split(" ").length >= 5) {
                    out.add(s);
                    if (out.size() == count) {
                        return out;
                    }
                }
            }
        }
        return out;
    }
}
