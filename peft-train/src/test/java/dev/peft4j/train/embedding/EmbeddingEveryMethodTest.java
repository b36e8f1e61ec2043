package dev.peft4j.train.embedding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.FineTuneRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every method of the catalogue (and every initializer that needs no task loss) trains a sentence
 * encoder with in-batch negatives through {@link EmbeddingRun}: finite losses, an adapter folder
 * with its {@code peft_type} and {@code task_type} FEATURE_EXTRACTION, and weights that training
 * moved (8 steps against 1). LoRA-GA, which differentiates a task loss of one forward, is refused
 * with a message saying so.
 */
class EmbeddingEveryMethodTest {

    private static final List<String> TARGETS = List.of("query", "value", "dense");

    @TempDir Path tmp;

    static Stream<MethodCatalogue.Entry> rows() {
        return MethodCatalogue.tinyRows().stream().filter(e -> !e.name().equals("lora_ga"));
    }

    private static BertModel tiny(ai.djl.ndarray.NDManager m) {
        BertConfig config =
                BertConfig.parse(
                        "{\"vocab_size\": 30522, \"hidden_size\": 16, \"num_hidden_layers\": 1,"
                                + " \"num_attention_heads\": 2, \"intermediate_size\": 32,"
                                + " \"max_position_embeddings\": 32}");
        BertModel bert = new BertModel(config, false);
        TinyModels.init(bert, m, new Shape(1, 8), 5);
        return bert;
    }

    private EmbeddingRun.Result train(AdapterConfig config, int steps, Path out) throws Exception {
        FineTuneRun.Settings s = new FineTuneRun.Settings(6, 5, steps, 1e-2f, 3, 0, false);
        try (HuggingFaceTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(16)) {
            return EmbeddingRun.run(
                    "tiny",
                    EmbeddingEveryMethodTest::tiny,
                    16,
                    EmbeddingTrainingTest.pairs(),
                    tokenizer,
                    new EmbeddingRun.Spec(
                            config, new MultipleNegativesRankingLoss(), Pooling.MEAN, true, s),
                    null,
                    out);
        }
    }

    @ParameterizedTest
    @MethodSource("rows")
    void everyMethodTrainsAnEncoder(MethodCatalogue.Entry row) throws Exception {
        AdapterConfig config = row.tinyConfig(TARGETS);
        EmbeddingRun.Result one = train(config, 1, tmp.resolve("one"));
        EmbeddingRun.Result eight = train(config, 8, tmp.resolve("eight"));
        assertEquals(8, eight.losses().size());
        assertTrue(
                eight.losses().stream().allMatch(l -> Float.isFinite(l)), eight.losses()::toString);
        assertTrue(eight.trainable() > 0);
        var cfg = JsonIO.readObject(eight.saved().resolve(AdapterCheckpoint.CONFIG_FILE));
        assertEquals(row.peftType(), cfg.get("peft_type").getAsString());
        assertEquals("FEATURE_EXTRACTION", cfg.get("task_type").getAsString());
        assertFalse(
                Arrays.equals(
                        Files.readAllBytes(one.saved().resolve(AdapterCheckpoint.WEIGHTS_FILE)),
                        Files.readAllBytes(eight.saved().resolve(AdapterCheckpoint.WEIGHTS_FILE))),
                "seven more steps changed the adapter");
    }

    @Test
    void loraGaIsRefusedForLackOfATaskLoss() {
        AdapterConfig config = MethodCatalogue.byName("lora_ga").tinyConfig(TARGETS);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class, () -> train(config, 1, tmp.resolve("ga")));
        assertTrue(e.getMessage().contains("LoRA-GA"), e.getMessage());
    }
}
