package dev.peft4j.train.pretrained;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.onnx.OnnxWeights;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.TokenBatch;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The pre-trained encoders (all-MiniLM-L6-v2, bge-small-en-v1.5) in our DJL blocks against ONNX
 * Runtime running the same ONNX file on one padded batch of real sentences: the last hidden state
 * at every real token and the pooled embedding (mean for MiniLM, CLS for BGE) agree within 1e-4.
 */
public class PretrainedEncoderOnnxRuntimeTest {

    private static final double ATOL = 1e-4;

    // real sentences from 1 to about 60 word pieces, padded together in one batch
    public static final List<String> SENTENCES =
            List.of(
                    "Thanks",
                    "Good morning.",
                    "The cat sat on the mat.",
                    "Where is the nearest train station?",
                    "She sold her old bicycle to a neighbour last week.",
                    "Interest rates rose for the third consecutive quarter.",
                    "Photosynthesis converts light energy into chemical energy stored in glucose.",
                    "I can't believe it's already December; the year went by so fast!",
                    "The committee postponed its decision until more evidence could be gathered.",
                    "Please remember to water the tomatoes before you leave for the airport"
                            + " tomorrow.",
                    "Mount Everest, at 8,849 metres, is the highest mountain above sea level on"
                            + " Earth.",
                    "He opened the fridge, found nothing but mustard, and ordered a pizza instead.",
                    "The library extends its opening hours during the examination period in June.",
                    "Researchers reported that the new vaccine reduced hospital admissions by sixty"
                            + " percent.",
                    "Although the forecast promised sunshine, a heavy thunderstorm flooded the"
                            + " village square by noon.",
                    "Quantum computers exploit superposition and entanglement to solve certain"
                            + " problems faster than classical machines.",
                    "Our quarterly revenue exceeded expectations, driven mainly by strong demand"
                            + " for cloud services in Europe and Asia.",
                    "The novel follows three generations of a fishing family whose lives are shaped"
                            + " by the changing fortunes of a small coastal town.",
                    "After years of negotiations, the two countries signed a treaty that settled"
                        + " the border dispute and opened new trade routes across the mountains.",
                    "To reset your password, open the settings page, choose the security tab, enter"
                        + " your current password, and follow the instructions sent to your email.",
                    "Volunteers planted more than two thousand native trees along the riverbank"
                        + " this spring, hoping to reduce erosion, shade the water, and bring back"
                        + " the birds and insects that once lived there in great numbers.",
                    "The orchestra rehearsed the symphony for weeks, yet on opening night the"
                        + " conductor surprised everyone by taking the final movement at a much"
                        + " slower tempo, which critics later praised as bold and deeply moving.",
                    "When the old lighthouse keeper finally retired, the town held a small ceremony"
                        + " on the pier, where children read poems, fishermen told stories about"
                        + " storms he had guided them through, and the mayor unveiled a bronze"
                        + " plaque that thanked him for forty years of patient, lonely and faithful"
                        + " service.");

    @ParameterizedTest
    @EnumSource(PretrainedEncoder.class)
    void lastHiddenStateAndPoolingMatchOnnxRuntime(PretrainedEncoder model) throws Exception {
        byte[] onnx;
        try (InputStream in =
                getClass().getClassLoader().getResourceAsStream(model.onnxResource())) {
            onnx = in.readAllBytes();
        }
        TokenBatch batch;
        try (HuggingFaceTokenizer tokenizer = model.tokenizer()) {
            batch = TokenBatch.encode(tokenizer, SENTENCES, model.config().padTokenId());
        }
        checkLengths(batch);
        float[][][] expected = runOnnxRuntime(onnx, batch);

        try (NDManager manager = NDManager.newBaseManager()) {
            OnnxWeights weights = OnnxWeights.of(ByteBuffer.wrap(onnx), "test model");
            int layers = model.config().numHiddenLayers();
            assertEquals(6 * layers, weights.transposedKeys().size(), "6 matrices per layer");
            BertModel bert = model.load(manager, weights);
            NDList inputs = batch.toNDList(manager);
            NDArray hidden = bert.forward(new ParameterStore(manager, false), inputs, false).head();
            assertEquals(new Shape(batch.size(), batch.length(), 384), hidden.getShape());
            for (int b = 0; b < batch.size(); b++) {
                int real = batch.tokens(b);
                float[] ours = hidden.get(b).get(":" + real).toFloatArray();
                assertAlmostEquals(ours, flatten(expected[b], real), 0, ATOL);
            }
            float[] pooled = model.pooling().pool(hidden, inputs.get(1)).toFloatArray();
            float[] reference =
                    model.pooling() == Pooling.MEAN ? meanPool(expected, batch) : clsPool(expected);
            assertAlmostEquals(pooled, reference, 0, ATOL);
        }
    }

    private static void checkLengths(TokenBatch batch) {
        Set<Integer> lengths = new HashSet<>();
        int min = Integer.MAX_VALUE;
        for (int b = 0; b < batch.size(); b++) {
            lengths.add(batch.tokens(b));
            min = Math.min(min, batch.tokens(b));
        }
        assertTrue(batch.size() >= 20 && lengths.size() >= 15, "varied lengths " + lengths);
        assertTrue(min <= 4 && batch.length() >= 50, "min " + min + ", max " + batch.length());
    }

    /** ONNX Runtime's {@code last_hidden_state} for a padded batch (2 intra-op threads). */
    public static float[][][] runOnnxRuntime(byte[] onnx, TokenBatch batch) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(2);
            try (OrtSession session = env.createSession(onnx, options);
                    OnnxTensor ids = OnnxTensor.createTensor(env, batch.inputIds());
                    OnnxTensor mask = OnnxTensor.createTensor(env, batch.attentionMask());
                    OnnxTensor types = OnnxTensor.createTensor(env, batch.tokenTypeIds());
                    OrtSession.Result result =
                            session.run(
                                    Map.of(
                                            "input_ids",
                                            ids,
                                            "attention_mask",
                                            mask,
                                            "token_type_ids",
                                            types))) {
                return (float[][][]) result.get("last_hidden_state").orElseThrow().getValue();
            }
        }
    }

    private static float[] flatten(float[][] rows, int count) {
        int h = rows[0].length;
        float[] out = new float[count * h];
        for (int t = 0; t < count; t++) {
            System.arraycopy(rows[t], 0, out, t * h, h);
        }
        return out;
    }

    /** The first token's state of each row of the ONNX Runtime output. */
    private static float[] clsPool(float[][][] hidden) {
        int h = hidden[0][0].length;
        float[] out = new float[hidden.length * h];
        for (int b = 0; b < hidden.length; b++) {
            System.arraycopy(hidden[b][0], 0, out, b * h, h);
        }
        return out;
    }

    /** Mean over real tokens, written out on the ONNX Runtime output. */
    private static float[] meanPool(float[][][] hidden, TokenBatch batch) {
        int h = hidden[0][0].length;
        float[] out = new float[batch.size() * h];
        for (int b = 0; b < batch.size(); b++) {
            int real = batch.tokens(b);
            for (int j = 0; j < h; j++) {
                double sum = 0;
                for (int t = 0; t < real; t++) {
                    sum += hidden[b][t][j];
                }
                out[b * h + j] = (float) (sum / real);
            }
        }
        return out;
    }
}
