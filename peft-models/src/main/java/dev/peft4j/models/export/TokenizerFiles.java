package dev.peft4j.models.export;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * The tokenizer files of a BERT WordPiece model as transformers' {@code BertTokenizer(Fast)} and
 * sentence-transformers load them, written from the base's {@code tokenizer.json}:
 *
 * <ul>
 *   <li>{@code tokenizer.json}: the base's, with its {@code truncation} set to the length the model
 *       was used with and its {@code padding} removed (the langchain4j MiniLM file pads every input
 *       to a fixed 128 tokens, which is not how the model was run here);
 *   <li>{@code vocab.txt}: the WordPiece vocabulary, one token per line in id order (what the slow
 *       {@code BertTokenizer} reads);
 *   <li>{@code tokenizer_config.json}: {@code tokenizer_class} BertTokenizer, lower casing, accent
 *       stripping and Chinese-character handling from the base's {@code BertNormalizer}, the
 *       special tokens and {@code model_max_length};
 *   <li>{@code special_tokens_map.json}.
 * </ul>
 */
public final class TokenizerFiles {

    private static final Gson GSON =
            new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();

    /** transformers' special-token roles of a BERT tokenizer and the tokens BERT uses for them. */
    private static final Map<String, String> ROLES =
            Map.of(
                    "unk_token", "[UNK]",
                    "sep_token", "[SEP]",
                    "pad_token", "[PAD]",
                    "cls_token", "[CLS]",
                    "mask_token", "[MASK]");

    private TokenizerFiles() {}

    /**
     * Writes the four files into {@code dir}.
     *
     * @param tokenizerJson the base's {@code tokenizer.json} text
     * @param origin where it came from, for errors
     * @param maxLength the truncation length in tokens, special tokens included
     * @param dir the folder (exists)
     * @throws IllegalArgumentException naming {@code origin} when it is not a BERT WordPiece
     *     tokenizer with contiguous ids and the five BERT special tokens
     */
    public static void write(String tokenizerJson, String origin, int maxLength, Path dir)
            throws IOException {
        JsonObject tok = JsonParser.parseString(tokenizerJson).getAsJsonObject();
        JsonObject model = object(tok, "model", origin);
        JsonObject normalizer = object(tok, "normalizer", origin);
        if (!"WordPiece".equals(string(model, "type"))
                || !"BertNormalizer".equals(string(normalizer, "type"))) {
            throw new IllegalArgumentException(
                    origin
                            + ": expected a BERT tokenizer (WordPiece model, BertNormalizer), found"
                            + " "
                            + string(model, "type")
                            + " / "
                            + string(normalizer, "type"));
        }
        JsonObject vocab = object(model, "vocab", origin);
        String[] byId = new String[vocab.size()];
        for (Map.Entry<String, JsonElement> e : vocab.entrySet()) {
            int id = e.getValue().getAsInt();
            if (id < 0 || id >= byId.length || byId[id] != null) {
                throw new IllegalArgumentException(
                        origin
                                + ": model.vocab ids are not 0 to "
                                + (byId.length - 1)
                                + " once each (token '"
                                + e.getKey()
                                + "' has id "
                                + id
                                + ")");
            }
            byId[id] = e.getKey();
        }
        for (String token : ROLES.values()) {
            if (!vocab.has(token)) {
                throw new IllegalArgumentException(
                        origin + ": the vocabulary has no " + token + " token");
            }
        }
        StringBuilder vocabTxt = new StringBuilder();
        for (String token : byId) {
            vocabTxt.append(token).append('\n');
        }

        JsonObject truncation = new JsonObject();
        truncation.addProperty("direction", "Right");
        truncation.addProperty("max_length", maxLength);
        truncation.addProperty("strategy", "LongestFirst");
        truncation.addProperty("stride", 0);
        tok.add("truncation", truncation);
        tok.add("padding", JsonNull.INSTANCE);

        JsonObject special = new JsonObject();
        ROLES.forEach(special::addProperty);
        JsonObject config = special.deepCopy();
        config.addProperty("tokenizer_class", "BertTokenizer");
        config.add("do_lower_case", bool(normalizer, "lowercase", true));
        config.add("strip_accents", orNull(normalizer.get("strip_accents")));
        config.add("tokenize_chinese_chars", bool(normalizer, "handle_chinese_chars", true));
        config.addProperty("do_basic_tokenize", true);
        config.add("never_split", JsonNull.INSTANCE);
        config.addProperty("clean_up_tokenization_spaces", true);
        config.addProperty("model_max_length", maxLength);

        AtomicFiles.writeBytes(
                dir.resolve("tokenizer.json"), GSON.toJson(tok).getBytes(StandardCharsets.UTF_8));
        AtomicFiles.writeBytes(
                dir.resolve("vocab.txt"), vocabTxt.toString().getBytes(StandardCharsets.UTF_8));
        JsonIO.writeSorted(dir.resolve("tokenizer_config.json"), config);
        JsonIO.writeSorted(dir.resolve("special_tokens_map.json"), special);
    }

    private static JsonObject object(JsonObject o, String key, String origin) {
        JsonElement e = o.get(key);
        if (e == null || !e.isJsonObject()) {
            throw new IllegalArgumentException(
                    origin + ": expected an object under \"" + key + "\"");
        }
        return e.getAsJsonObject();
    }

    private static String string(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() ? e.getAsString() : String.valueOf(e);
    }

    private static JsonElement bool(JsonObject o, String key, boolean otherwise) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() ? e : new JsonPrimitive(otherwise);
    }

    private static JsonElement orNull(JsonElement e) {
        return e == null ? JsonNull.INSTANCE : e;
    }
}
