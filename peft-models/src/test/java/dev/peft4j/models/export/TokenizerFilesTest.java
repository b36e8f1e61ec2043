package dev.peft4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerFilesTest {

    @TempDir Path tmp;

    /** vocab.txt lists the base's tokens in id order; only truncation and padding change. */
    @Test
    void theBasesVocabularyAndNormalizerAreWrittenForBertTokenizer() throws Exception {
        String original = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizerJson();
        TokenizerFiles.write(original, "minilm", 96, tmp);
        JsonObject base = JsonParser.parseString(original).getAsJsonObject();
        JsonObject vocab = base.getAsJsonObject("model").getAsJsonObject("vocab");
        List<String> lines = Files.readAllLines(tmp.resolve("vocab.txt"), StandardCharsets.UTF_8);
        assertEquals(vocab.size(), lines.size());
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(i, vocab.get(lines.get(i)).getAsInt(), "line " + i);
        }
        JsonObject written = JsonIO.readObject(tmp.resolve("tokenizer.json"));
        assertEquals(96, written.getAsJsonObject("truncation").get("max_length").getAsInt());
        assertTrue(written.get("padding").isJsonNull(), "no fixed padding");
        for (String key :
                List.of("model", "normalizer", "pre_tokenizer", "post_processor", "added_tokens")) {
            assertEquals(base.get(key), written.get(key), key);
        }
        JsonObject config = JsonIO.readObject(tmp.resolve("tokenizer_config.json"));
        assertEquals("BertTokenizer", config.get("tokenizer_class").getAsString());
        assertEquals(96, config.get("model_max_length").getAsInt());
        assertEquals(
                base.getAsJsonObject("normalizer").get("lowercase"), config.get("do_lower_case"));
        JsonObject special = JsonIO.readObject(tmp.resolve("special_tokens_map.json"));
        for (Map.Entry<String, String> e :
                Map.of("cls_token", "[CLS]", "sep_token", "[SEP]", "pad_token", "[PAD]")
                        .entrySet()) {
            assertEquals(e.getValue(), special.get(e.getKey()).getAsString());
        }
    }

    @Test
    void aTokenizerThatIsNotBertWordPieceIsRefusedNamingItsOrigin() {
        String bpe =
                "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}, \"normalizer\": {\"type\":"
                        + " \"NFC\"}}";
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> TokenizerFiles.write(bpe, "some/tokenizer.json", 8, tmp));
        assertTrue(e.getMessage().startsWith("some/tokenizer.json:"), e.getMessage());
        assertTrue(e.getMessage().contains("BPE"), e.getMessage());
        String gaps =
                "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 2}},"
                        + " \"normalizer\": {\"type\": \"BertNormalizer\"}}";
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> TokenizerFiles.write(gaps, "gaps.json", 8, tmp));
        assertTrue(e.getMessage().contains("ids are not 0 to 1"), e.getMessage());
    }
}
