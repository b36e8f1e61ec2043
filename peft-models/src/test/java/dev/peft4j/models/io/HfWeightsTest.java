package dev.peft4j.models.io;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import dev.peft4j.core.io.CheckpointFormatException;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.SafetensorsWriter;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.testing.MapTensorSource;
import dev.peft4j.models.testing.TestWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading by HF name: every mismatch is named, nothing loads on error, prefixes and heads. */
class HfWeightsTest {

    private static final BertConfig CONFIG =
            BertConfig.parse(
                    "{\"vocab_size\": 20, \"hidden_size\": 8, \"num_hidden_layers\": 1,"
                            + " \"num_attention_heads\": 2, \"intermediate_size\": 12,"
                            + " \"max_position_embeddings\": 8}");
    private static final Shape IDS = new Shape(1, 4);
    private static final String QUERY = "encoder.layer.0.attention.self.query.weight";

    @Test
    void missingTensorIsNamedAndNothingLoads() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, false);
            MapTensorSource good = TestWeights.randomize(model, manager, 1, IDS);
            MapTensorSource bad = shifted(good).remove(QUERY);
            String message = loadError(model, bad, LoadOptions.strict());
            assertTrue(message.contains("missing tensor '" + QUERY + "'"), message);
            assertUnchanged(model, good);
        }
    }

    @Test
    void misShapedTensorIsNamedWithBothShapes() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, false);
            MapTensorSource good = TestWeights.randomize(model, manager, 2, IDS);
            MapTensorSource bad = shifted(good).put(QUERY, new Shape(4, 8), new float[32]);
            String message = loadError(model, bad, LoadOptions.strict());
            assertTrue(message.contains("'" + QUERY + "' has shape (4, 8)"), message);
            assertTrue(message.contains("(8, 8)"), message);
            assertUnchanged(model, good);
        }
    }

    @Test
    void nonFiniteTensorIsNamedAndNothingLoads() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, false);
            MapTensorSource good = TestWeights.randomize(model, manager, 3, IDS);
            float[] poisoned = new float[64];
            poisoned[17] = Float.NaN;
            float[] infinite = new float[8];
            infinite[3] = Float.NEGATIVE_INFINITY;
            String bias = "encoder.layer.0.attention.self.query.bias";
            MapTensorSource bad =
                    shifted(good)
                            .put(QUERY, new Shape(8, 8), poisoned)
                            .put(bias, new Shape(8), infinite);
            String message = loadError(model, bad, LoadOptions.strict());
            assertTrue(message.contains("'" + QUERY + "' contains NaN or Inf"), message);
            assertTrue(message.contains("'" + bias + "' contains NaN or Inf"), message);
            assertTrue(message.contains("2 problem(s)"), message);
            assertUnchanged(model, good);
        }
    }

    @Test
    void unknownTensorIsNamed() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, false);
            MapTensorSource good = TestWeights.randomize(model, manager, 3, IDS);
            String extra = "encoder.layer.7.output.dense.weight";
            MapTensorSource bad = shifted(good).put(extra, new Shape(8, 8), new float[64]);
            String message = loadError(model, bad, LoadOptions.strict());
            assertTrue(message.contains("unexpected tensor '" + extra + "'"), message);
            assertUnchanged(model, good);
            // the same key is accepted when the options ignore it
            HfWeights.LoadResult result =
                    HfWeights.load(
                            model,
                            bad,
                            LoadOptions.builder().optIgnoreUnexpected("encoder.layer.7.").build());
            assertEquals(List.of(extra), result.ignored());
        }
    }

    @Test
    void encoderCheckpointLoadsUnderPrefixLeavingNewHead() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel encoder = new BertModel(CONFIG, false);
            MapTensorSource weights = TestWeights.randomize(encoder, manager, 4, IDS);
            BertForSequenceClassification classifier =
                    new BertForSequenceClassification(CONFIG, 2, Pooling.CLS);
            classifier.initialize(manager, DataType.FLOAT32, IDS, IDS, IDS);
            String message = loadError(classifier, weights, LoadOptions.strict());
            assertTrue(message.contains("unexpected tensor '" + QUERY + "'"), message);
            HfWeights.LoadResult result =
                    HfWeights.load(
                            classifier,
                            weights,
                            LoadOptions.builder()
                                    .optAddPrefix("bert.")
                                    .optAllowMissing("classifier.")
                                    .build());
            assertEquals(List.of("classifier.weight", "classifier.bias"), result.missing());
            assertAlmostEquals(
                    HfStateDict.of(classifier).get("bert." + QUERY).getArray().toFloatArray(),
                    weights.values(QUERY),
                    0,
                    0);
        }
    }

    @Test
    void safetensorsErrorsNameFileAndTensor(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, false);
            TestWeights.randomize(model, manager, 5, IDS);
            LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
            HfStateDict.of(model).forEach((k, p) -> tensors.put(k, p.getArray()));
            tensors.put(QUERY, manager.zeros(new Shape(8, 4)));
            Path file = dir.resolve("bad.safetensors");
            SafetensorsWriter.write(file, tensors, Map.of("format", "pt"));
            try (SafetensorsReader source = SafetensorsReader.open(file)) {
                String message = loadError(model, source, LoadOptions.strict());
                assertTrue(message.contains(file.toString()), message);
                assertTrue(message.contains("'" + QUERY + "' has shape (8, 4)"), message);
            }
            Path broken = dir.resolve("broken.safetensors");
            byte[] bytes = Files.readAllBytes(file);
            Files.write(broken, Arrays.copyOf(bytes, bytes.length - 16));
            CheckpointFormatException e =
                    assertThrows(
                            CheckpointFormatException.class,
                            () -> HfWeights.load(model, broken, LoadOptions.strict()));
            assertTrue(e.getMessage().contains(broken.toString()), e.getMessage());
        }
    }

    @Test
    void savePretrainedFolderLoadsBack(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, true);
            MapTensorSource weights = TestWeights.randomize(model, manager, 6, IDS);
            HfWeights.savePretrained(model, CONFIG, dir);
            BertConfig config = BertConfig.read(dir.resolve("config.json"));
            assertEquals(CONFIG.toJson(), config.toJson());
            BertModel reloaded = new BertModel(config, true);
            reloaded.initialize(manager, DataType.FLOAT32, IDS);
            HfWeights.LoadResult result = HfWeights.load(reloaded, dir, LoadOptions.strict());
            assertEquals(weights.keys(), result.loaded());
            assertUnchanged(reloaded, weights);
        }
    }

    private static String loadError(Block model, TensorSource source, LoadOptions options) {
        return assertThrows(
                        IllegalArgumentException.class,
                        () -> HfWeights.load(model, source, options))
                .getMessage();
    }

    /** A copy of the checkpoint with every value changed, so a partial load would show. */
    private static MapTensorSource shifted(MapTensorSource source) {
        MapTensorSource out = new MapTensorSource();
        for (String k : source.keys()) {
            float[] v = source.values(k).clone();
            for (int i = 0; i < v.length; i++) {
                v[i] += 1;
            }
            out.put(k, source.info(k).shape(), v);
        }
        return out;
    }

    private static void assertUnchanged(Block model, MapTensorSource loaded) {
        HfStateDict.of(model)
                .forEach(
                        (k, p) ->
                                assertAlmostEquals(
                                        p.getArray().toFloatArray(), loaded.values(k), 0, 0));
    }
}
