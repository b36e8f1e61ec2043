package dev.peft4j.models.vit;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.models.testing.Dense;
import dev.peft4j.models.testing.MapTensorSource;
import dev.peft4j.models.testing.TestWeights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A tiny seeded ViT classifier against a step-by-step dense reference, and a round trip. */
class ViTReferenceTest {

    private static final double TOL = 1e-4;
    private static final int LABELS = 5;

    static final String CONFIG =
            "{\"hidden_size\": 16, \"num_hidden_layers\": 2,"
                    + " \"num_attention_heads\": 4, \"intermediate_size\": 32, \"image_size\": 8,"
                    + " \"patch_size\": 4, \"num_channels\": 3, \"layer_norm_eps\": 1e-6}";

    @Test
    void classifierMatchesReference() {
        ViTConfig config = ViTConfig.parse(CONFIG);
        float[] pixels = pixels(2, config, 21);
        try (NDManager manager = NDManager.newBaseManager()) {
            ViTForImageClassification model = new ViTForImageClassification(config, LABELS);
            MapTensorSource w = TestWeights.randomize(model, manager, 22, new Shape(2, 3, 8, 8));
            NDArray logits = forward(model, manager, pixels);
            assertEquals(new Shape(2, LABELS), logits.getShape());
            int image = 3 * 8 * 8;
            for (int b = 0; b < 2; b++) {
                float[] one = new float[image];
                System.arraycopy(pixels, b * image, one, 0, image);
                double[][] expected = reference(config, w, one);
                assertAlmostEquals(
                        logits.get(b).toFloatArray(), Dense.flatten(expected, 1), TOL, TOL);
            }
        }
    }

    @Test
    void hfNamesAndSafetensorsRoundTrip(@TempDir Path dir) throws Exception {
        ViTConfig config = ViTConfig.parse(CONFIG);
        float[] pixels = pixels(2, config, 23);
        Path file = dir.resolve("model.safetensors");
        try (NDManager manager = NDManager.newBaseManager()) {
            ViTForImageClassification model = new ViTForImageClassification(config, LABELS);
            TestWeights.randomize(model, manager, 24, new Shape(2, 3, 8, 8));
            List<String> names = new ArrayList<>(HfStateDict.of(model).keySet());
            // ViTForImageClassification.state_dict() keys of HF transformers (layer 0 and ends)
            String l0 = "vit.encoder.layer.0.";
            assertTrue(
                    names.containsAll(
                            List.of(
                                    "vit.embeddings.cls_token",
                                    "vit.embeddings.position_embeddings",
                                    "vit.embeddings.patch_embeddings.projection.weight",
                                    "vit.embeddings.patch_embeddings.projection.bias",
                                    l0 + "attention.attention.query.weight",
                                    l0 + "attention.attention.key.bias",
                                    l0 + "attention.attention.value.weight",
                                    l0 + "attention.output.dense.weight",
                                    l0 + "intermediate.dense.weight",
                                    l0 + "output.dense.bias",
                                    l0 + "layernorm_before.weight",
                                    l0 + "layernorm_after.bias",
                                    "vit.layernorm.weight",
                                    "classifier.weight",
                                    "classifier.bias")),
                    names.toString());
            assertEquals(4 + 2 * 16 + 2 + 2, names.size(), names.toString());
            HfWeights.save(model, file);
            NDArray before = forward(model, manager, pixels);

            ViTForImageClassification reloaded = new ViTForImageClassification(config, LABELS);
            reloaded.initialize(manager, DataType.FLOAT32, new Shape(2, 3, 8, 8));
            try (SafetensorsReader source = SafetensorsReader.open(file)) {
                assertEquals(
                        new Shape(16, 3, 4, 4),
                        source.info("vit.embeddings.patch_embeddings.projection.weight").shape());
                HfWeights.load(reloaded, source, LoadOptions.strict());
            }
            assertAlmostEquals(forward(reloaded, manager, pixels), before, 0, 0);
        }
    }

    private static NDArray forward(
            ViTForImageClassification model, NDManager manager, float[] pixels) {
        NDArray x = manager.create(pixels, new Shape(pixels.length / (3 * 64), 3, 8, 8));
        return model.forward(new ParameterStore(manager, false), new NDList(x), false).head();
    }

    private static float[] pixels(int batch, ViTConfig config, long seed) {
        Random random = new Random(seed);
        float[] p =
                new float[batch * config.numChannels() * config.imageSize() * config.imageSize()];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) random.nextGaussian();
        }
        return p;
    }

    /** The logits of one image {@code [C][S][S]} (row-major), computed step by step. */
    static double[][] reference(ViTConfig c, MapTensorSource w, float[] image) {
        int h = c.hiddenSize();
        double eps = c.layerNormEps();
        double[][] x = embed(c, w, image);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "vit.encoder.layer." + l + ".";
            double[][] n =
                    Dense.layerNorm(
                            x,
                            w.values(p + "layernorm_before.weight"),
                            w.values(p + "layernorm_before.bias"),
                            eps);
            double[][] q = proj(n, w, p + "attention.attention.query", h);
            double[][] k = proj(n, w, p + "attention.attention.key", h);
            double[][] v = proj(n, w, p + "attention.attention.value", h);
            boolean[][] all = new boolean[x.length][x.length];
            for (boolean[] row : all) {
                Arrays.fill(row, true);
            }
            double[][] a =
                    Dense.attention(q, k, v, c.numAttentionHeads(), c.numAttentionHeads(), all);
            x = Dense.add(x, proj(a, w, p + "attention.output.dense", h));
            n =
                    Dense.layerNorm(
                            x,
                            w.values(p + "layernorm_after.weight"),
                            w.values(p + "layernorm_after.bias"),
                            eps);
            double[][] u = proj(n, w, p + "intermediate.dense", c.intermediateSize());
            for (double[] row : u) {
                for (int i = 0; i < row.length; i++) {
                    row[i] = Dense.gelu(row[i]);
                }
            }
            x = Dense.add(x, proj(u, w, p + "output.dense", h));
        }
        x =
                Dense.layerNorm(
                        x, w.values("vit.layernorm.weight"), w.values("vit.layernorm.bias"), eps);
        return proj(new double[][] {x[0]}, w, "classifier", LABELS);
    }

    /** Patch convolution written out, class token prepended, position embeddings added. */
    private static double[][] embed(ViTConfig c, MapTensorSource w, float[] image) {
        int h = c.hiddenSize();
        int p = c.patchSize();
        int s = c.imageSize();
        int side = s / p;
        int channels = c.numChannels();
        float[] kernel = w.values("vit.embeddings.patch_embeddings.projection.weight");
        float[] bias = w.values("vit.embeddings.patch_embeddings.projection.bias");
        float[] cls = w.values("vit.embeddings.cls_token");
        float[] pos = w.values("vit.embeddings.position_embeddings");
        double[][] x = new double[side * side + 1][h];
        for (int o = 0; o < h; o++) {
            x[0][o] = cls[o] + pos[o];
        }
        for (int py = 0; py < side; py++) {
            for (int px = 0; px < side; px++) {
                int token = 1 + py * side + px;
                for (int o = 0; o < h; o++) {
                    double sum = bias[o];
                    for (int ch = 0; ch < channels; ch++) {
                        for (int ky = 0; ky < p; ky++) {
                            for (int kx = 0; kx < p; kx++) {
                                sum +=
                                        kernel[((o * channels + ch) * p + ky) * p + kx]
                                                * image[(ch * s + py * p + ky) * s + px * p + kx];
                            }
                        }
                    }
                    x[token][o] = sum + pos[token * h + o];
                }
            }
        }
        return x;
    }

    private static double[][] proj(double[][] x, MapTensorSource w, String name, int out) {
        return Dense.linear(x, w.values(name + ".weight"), w.values(name + ".bias"), out);
    }
}
