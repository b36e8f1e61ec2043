package dev.peft4j.train.embedding;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.OnnxEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.PoolingMode;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.export.ModelExport;
import dev.peft4j.models.onnx.OnnxGraph;
import dev.peft4j.models.onnx.OnnxWeights;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.pretrained.PretrainedEncoderOnnxRuntimeTest;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TokenBatch;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An embedder fine-tuned here goes back to the Java stack unchanged: a LoRA adapter trained a few
 * steps with in-batch negatives, merged and written into the base's own ONNX graph, gives in ONNX
 * Runtime (pooled and normalized below as sentence-transformers does) and in LangChain4j's {@code
 * OnnxEmbeddingModel} (its own tokenization, pooling and normalization) the embeddings of our DJL
 * forward of the adapted model, within 1e-4, on 23 real sentences, while the base file gives
 * other embeddings.
 */
class OnnxExportTest {

    private static final double ATOL = 1e-4;
    private static final List<String> SENTENCES = PretrainedEncoderOnnxRuntimeTest.SENTENCES;

    @TempDir Path tmp;

    @ParameterizedTest
    @EnumSource(PretrainedEncoder.class)
    void theExportedGraphEmbedsAsTheAdaptedModel(PretrainedEncoder model) throws Exception {
        Path adapter = train(model);
        Path out = tmp.resolve("onnx");
        float[][] ours;
        try (NDManager m = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer = model.tokenizer(model.maxSeqLength())) {
            OnnxWeights base = model.weights();
            BertModel bert = model.load(m, base);
            PeftModel adapted = PeftModel.load(bert, adapter);
            ours =
                    new SentenceEncoder(bert, model.config().hiddenSize(), model.pooling(), true)
                            .encode(SENTENCES, tokenizer, 32, m);
            BertModel merged = (BertModel) adapted.mergeAndUnload();
            assertEquals(
                    ModelExport.Form.ONNX_ENCODER,
                    ModelExport.onnx(
                            merged,
                            base,
                            model.config(),
                            model.pooling(),
                            model.maxSeqLength(),
                            model.tokenizerJson(),
                            "test",
                            out));
        }
        Path onnx = out.resolve(ModelExport.ONNX_FILE);
        byte[] original = resource(model.onnxResource());
        byte[] exported = Files.readAllBytes(onnx);

        // the same graph: nodes, inputs and initializer names and shapes
        OnnxGraph before = OnnxGraph.parse(ByteBuffer.wrap(original));
        OnnxGraph after = OnnxGraph.parse(ByteBuffer.wrap(exported));
        assertEquals(before.nodes(), after.nodes());
        assertEquals(before.initializers().size(), after.initializers().size());
        for (int i = 0; i < before.initializers().size(); i++) {
            OnnxGraph.Initializer a = before.initializers().get(i);
            OnnxGraph.Initializer b = after.initializers().get(i);
            assertEquals(a.name(), b.name());
            assertEquals(Arrays.toString(a.dims()), Arrays.toString(b.dims()));
            assertEquals(a.dataType(), b.dataType());
        }

        TokenBatch batch;
        try (HuggingFaceTokenizer tokenizer =
                HuggingFaceTokenizer.newInstance(out.resolve("tokenizer.json"))) {
            batch = TokenBatch.encode(tokenizer, SENTENCES, model.config().padTokenId());
        }
        float[][] runtime =
                pooled(
                        PretrainedEncoderOnnxRuntimeTest.runOnnxRuntime(exported, batch),
                        batch,
                        model.pooling());
        float[][] unchanged =
                pooled(
                        PretrainedEncoderOnnxRuntimeTest.runOnnxRuntime(original, batch),
                        batch,
                        model.pooling());
        double moved = 0;
        for (int i = 0; i < SENTENCES.size(); i++) {
            assertAlmostEquals(runtime[i], ours[i], 0, ATOL);
            moved = Math.max(moved, maxAbsDiff(unchanged[i], ours[i]));
        }
        assertTrue(moved > 10 * ATOL, "training moved the embeddings by " + moved);

        OnnxEmbeddingModel langchain =
                new OnnxEmbeddingModel(
                        onnx,
                        out.resolve("tokenizer.json"),
                        model.pooling() == Pooling.MEAN ? PoolingMode.MEAN : PoolingMode.CLS);
        List<Embedding> embeddings =
                langchain.embedAll(SENTENCES.stream().map(TextSegment::from).toList()).content();
        assertEquals(SENTENCES.size(), embeddings.size());
        for (int i = 0; i < SENTENCES.size(); i++) {
            assertAlmostEquals(embeddings.get(i).vector(), ours[i], 0, ATOL);
        }
    }

    @ParameterizedTest
    @EnumSource(PretrainedEncoder.class)
    void aWeightTheGraphDoesNotHoldIsRefused(PretrainedEncoder model) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            OnnxWeights base = model.weights();
            String key = "embeddings.LayerNorm.weight";
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> base.withValues(Map.of(key, m.zeros(new Shape(7)))));
            assertTrue(e.getMessage().contains("'" + key + "'"), e.getMessage());
            assertTrue(e.getMessage().contains("(7)"), e.getMessage());
            e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> base.withValues(Map.of("no.such.weight", m.zeros(new Shape(7)))));
            assertTrue(e.getMessage().contains("no tensor 'no.such.weight'"), e.getMessage());
        }
    }

    /** Trains a LoRA adapter a few steps with in-batch negatives; returns its folder. */
    private Path train(PretrainedEncoder model) throws Exception {
        LoraConfig lora =
                LoraConfig.builder()
                        .optRank(4)
                        .optAlpha(8)
                        .setTargetModules("query", "value", "dense")
                        .build();
        FineTuneRun.Settings s = new FineTuneRun.Settings(8, 1, 6, 5e-3f, 11, 0, false);
        EmbeddingRun.Spec spec =
                new EmbeddingRun.Spec(
                        lora, new MultipleNegativesRankingLoss(), model.pooling(), true, s);
        try (HuggingFaceTokenizer tokenizer = model.tokenizer(64)) {
            EmbeddingRun.Result r =
                    EmbeddingRun.run(
                            model.modelName(),
                            m -> model.load(m, model.weights()),
                            model.config().hiddenSize(),
                            EmbeddingTrainingTest.pairs(),
                            tokenizer,
                            spec,
                            null,
                            tmp.resolve("run"));
            assertEquals(3, r.losses().size(), "24 rows in batches of 8, one epoch");
            return r.saved();
        }
    }

    private static byte[] resource(String name) throws Exception {
        try (InputStream in = OnnxExportTest.class.getClassLoader().getResourceAsStream(name)) {
            return in.readAllBytes();
        }
    }

    /**
     * sentence-transformers' Pooling (mean over real tokens, or the first token) then Normalize
     * (x / max(||x||, 1e-12)), written out on the runtime's token states.
     */
    static float[][] pooled(float[][][] hidden, TokenBatch batch, Pooling pooling) {
        int h = hidden[0][0].length;
        float[][] out = new float[hidden.length][h];
        for (int b = 0; b < hidden.length; b++) {
            int real = pooling == Pooling.MEAN ? batch.tokens(b) : 1;
            double[] v = new double[h];
            for (int t = 0; t < real; t++) {
                for (int j = 0; j < h; j++) {
                    v[j] += hidden[b][t][j];
                }
            }
            double norm = 0;
            for (int j = 0; j < h; j++) {
                v[j] /= real;
                norm += v[j] * v[j];
            }
            norm = Math.max(Math.sqrt(norm), 1e-12);
            for (int j = 0; j < h; j++) {
                out[b][j] = (float) (v[j] / norm);
            }
        }
        return out;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}
