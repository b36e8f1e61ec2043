package dev.peft4j.models.llama;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.models.io.HfStateDict;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.testing.Dense;
import dev.peft4j.models.testing.MapTensorSource;
import dev.peft4j.models.testing.TestWeights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tiny seeded LLaMA decoders against a step-by-step dense reference, and a safetensors round trip. */
class LlamaReferenceTest {

    private static final double TOL = 1e-4;

    /** Grouped-query attention (4 query heads share 2 key/value heads), untied lm_head. */
    static final String GQA =
            "{\"vocab_size\": 40, \"hidden_size\": 16, \"intermediate_size\": 24,"
                + " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\":"
                + " 2, \"rms_norm_eps\": 1e-6, \"rope_theta\": 500.0, \"tie_word_embeddings\":"
                + " false}";

    /** Multi-head attention with biases and an lm_head tied to the embeddings. */
    static final String TIED =
            "{\"vocab_size\": 32, \"hidden_size\": 12, \"intermediate_size\": 20,"
                + " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"rms_norm_eps\": 1e-5,"
                + " \"attention_bias\": true, \"tie_word_embeddings\": true}";

    // left padding: row 1 starts with two pad tokens; positions count real tokens only
    private static final long[][] IDS = {{3, 17, 5, 9, 22, 1}, {0, 0, 8, 31, 2, 14}};
    private static final long[][] MASK = {{1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1}};
    private static final long[][] POSITIONS = {{0, 1, 2, 3, 4, 5}, {0, 0, 0, 1, 2, 3}};

    @Test
    void groupedQueryAttentionWithPaddingMatchesReference() {
        LlamaConfig config = LlamaConfig.parse(GQA);
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaForCausalLM model = new LlamaForCausalLM(config);
            MapTensorSource w = TestWeights.randomize(model, manager, 11, new Shape(2, 6));
            NDArray logits = forward(model, manager, true);
            for (int b = 0; b < IDS.length; b++) {
                double[][] expected = reference(config, w, IDS[b], MASK[b], POSITIONS[b]);
                for (int t = 0; t < IDS[b].length; t++) {
                    if (MASK[b][t] == 1) {
                        assertAlmostEquals(
                                logits.get(b, t).toFloatArray(),
                                Dense.flatten(new double[][] {expected[t]}, 1),
                                TOL,
                                TOL);
                    }
                }
            }
        }
    }

    @Test
    void tiedEmbeddingsWithBiasesMatchReference() {
        LlamaConfig config = LlamaConfig.parse(TIED);
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaForCausalLM model = new LlamaForCausalLM(config);
            MapTensorSource w = TestWeights.randomize(model, manager, 12, new Shape(2, 6));
            assertFalse(HfStateDict.of(model).containsKey("lm_head.weight"));
            NDArray logits = forward(model, manager, false);
            for (int b = 0; b < IDS.length; b++) {
                double[][] expected =
                        reference(config, w, IDS[b], new long[] {1, 1, 1, 1, 1, 1}, POSITIONS[0]);
                assertAlmostEquals(
                        logits.get(b).toFloatArray(),
                        Dense.flatten(expected, expected.length),
                        TOL,
                        TOL);
            }
        }
    }

    @Test
    void hfNamesAndSafetensorsRoundTrip(@TempDir Path dir) throws Exception {
        LlamaConfig config = LlamaConfig.parse(GQA);
        Path file = dir.resolve("model.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaForCausalLM model = new LlamaForCausalLM(config);
            TestWeights.randomize(model, manager, 13, new Shape(2, 6));
            List<String> names = new ArrayList<>(HfStateDict.of(model).keySet());
            // LlamaForCausalLM.state_dict() keys of HF transformers, layer 0 and the ends
            assertTrue(
                    names.containsAll(
                            List.of(
                                    "model.embed_tokens.weight",
                                    "model.layers.0.self_attn.q_proj.weight",
                                    "model.layers.0.self_attn.k_proj.weight",
                                    "model.layers.0.self_attn.v_proj.weight",
                                    "model.layers.0.self_attn.o_proj.weight",
                                    "model.layers.0.mlp.gate_proj.weight",
                                    "model.layers.0.mlp.up_proj.weight",
                                    "model.layers.0.mlp.down_proj.weight",
                                    "model.layers.0.input_layernorm.weight",
                                    "model.layers.0.post_attention_layernorm.weight",
                                    "model.norm.weight",
                                    "lm_head.weight")),
                    names.toString());
            assertEquals(2 + 2 * 9 + 1, names.size(), names.toString());
            HfWeights.save(model, file);
            NDArray before = forward(model, manager, true);

            LlamaForCausalLM reloaded = new LlamaForCausalLM(config);
            reloaded.initialize(manager, DataType.FLOAT32, new Shape(2, 6));
            try (SafetensorsReader source = SafetensorsReader.open(file)) {
                assertEquals(names, new ArrayList<>(source.keys()));
                assertEquals(
                        new Shape(16, 16),
                        source.info("model.layers.0.self_attn.q_proj.weight").shape());
                assertEquals(
                        new Shape(8, 16),
                        source.info("model.layers.0.self_attn.k_proj.weight").shape());
                HfWeights.load(reloaded, source, reloaded.loadOptions());
            }
            assertAlmostEquals(forward(reloaded, manager, true), before, 0, 0);
        }
    }

    private static NDArray forward(LlamaForCausalLM model, NDManager manager, boolean masked) {
        NDList inputs =
                masked
                        ? new NDList(
                                manager.create(IDS),
                                manager.create(MASK),
                                manager.create(POSITIONS))
                        : new NDList(manager.create(IDS));
        return model.forward(new ParameterStore(manager, false), inputs, false).head();
    }

    /** The logits of one sequence, computed step by step in double precision. */
    static double[][] reference(
            LlamaConfig c, MapTensorSource w, long[] ids, long[] mask, long[] positions) {
        int h = c.hiddenSize();
        int heads = c.numAttentionHeads();
        int kvHeads = c.numKeyValueHeads();
        int d = c.headDim();
        float[] table = w.values("model.embed_tokens.weight");
        double[][] x = new double[ids.length][h];
        for (int t = 0; t < ids.length; t++) {
            for (int i = 0; i < h; i++) {
                x[t][i] = table[(int) ids[t] * h + i];
            }
        }
        boolean[][] allowed = new boolean[ids.length][ids.length];
        for (int t = 0; t < ids.length; t++) {
            for (int s = 0; s <= t; s++) {
                allowed[t][s] = mask[s] == 1;
            }
        }
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            double[][] n = Dense.rmsNorm(x, w.values(p + "input_layernorm.weight"), c.rmsNormEps());
            double[][] q = proj(n, w, p + "self_attn.q_proj", heads * d, c.attentionBias());
            double[][] k = proj(n, w, p + "self_attn.k_proj", kvHeads * d, c.attentionBias());
            double[][] v = proj(n, w, p + "self_attn.v_proj", kvHeads * d, c.attentionBias());
            rope(q, positions, heads, d, c.ropeTheta());
            rope(k, positions, kvHeads, d, c.ropeTheta());
            double[][] a = Dense.attention(q, k, v, heads, kvHeads, allowed);
            x = Dense.add(x, proj(a, w, p + "self_attn.o_proj", h, c.attentionBias()));
            n = Dense.rmsNorm(x, w.values(p + "post_attention_layernorm.weight"), c.rmsNormEps());
            double[][] gate = proj(n, w, p + "mlp.gate_proj", c.intermediateSize(), false);
            double[][] up = proj(n, w, p + "mlp.up_proj", c.intermediateSize(), false);
            for (int t = 0; t < gate.length; t++) {
                for (int i = 0; i < gate[t].length; i++) {
                    gate[t][i] = Dense.silu(gate[t][i]) * up[t][i];
                }
            }
            x = Dense.add(x, proj(gate, w, p + "mlp.down_proj", h, false));
        }
        x = Dense.rmsNorm(x, w.values("model.norm.weight"), c.rmsNormEps());
        float[] head = c.tieWordEmbeddings() ? table : w.values("lm_head.weight");
        return Dense.linear(x, head, null, c.vocabSize());
    }

    private static double[][] proj(
            double[][] x, MapTensorSource w, String name, int out, boolean bias) {
        return Dense.linear(
                x, w.values(name + ".weight"), bias ? w.values(name + ".bias") : null, out);
    }

    /** RoPE written out: pair (i, i + D/2) of each head rotates by pos * theta^(-2i/D). */
    private static void rope(double[][] x, long[] positions, int heads, int d, double theta) {
        for (int t = 0; t < x.length; t++) {
            for (int hd = 0; hd < heads; hd++) {
                for (int i = 0; i < d / 2; i++) {
                    double angle = positions[t] * Math.pow(theta, -2.0 * i / d);
                    int a = hd * d + i;
                    int b = a + d / 2;
                    double x1 = x[t][a];
                    double x2 = x[t][b];
                    x[t][a] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
                    x[t][b] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
                }
            }
        }
    }
}
