package dev.peft4j.merge.opcm;

import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.regex.Pattern;

/**
 * Which tensors are the weights of {@code nn.Linear} layers, the ones OPCM projects (FusionBench's
 * {@code isinstance(module, nn.Linear)}, opcm.py {@code run}). A checkpoint carries no layer types,
 * so the rule reads the model's {@code model_type}: a 2-D {@code <module>.weight} is a Linear weight
 * unless the module is an embedding ({@code nn.Embedding} in the Hugging Face implementations:
 * {@code embed_tokens}, {@code word_embeddings}, {@code wte}, T5's {@code relative_attention_bias},
 * GPT-NeoX's {@code embed_in}, ...) or, in GPT-2, one of transformers' {@code Conv1D} layers ({@code
 * c_attn}, {@code c_proj}, {@code c_fc}), which is not an {@code nn.Linear}. An explicit regex
 * ({@link #matching}) overrides the rule.
 */
public final class LinearWeights {

    /** The last module-name segments of {@code nn.Embedding} modules in Hugging Face models. */
    static final Set<String> EMBEDDINGS =
            Set.of(
                    "embed_tokens",
                    "word_embeddings",
                    "position_embeddings",
                    "token_type_embeddings",
                    "embed_positions",
                    "wte",
                    "wpe",
                    "shared",
                    "embed_in",
                    "relative_attention_bias",
                    "word_embedding",
                    "tok_embeddings");

    /** model_type to the module names that are transformers' {@code Conv1D}. */
    static final Map<String, Set<String>> CONV1D =
            Map.of(
                    "gpt2", Set.of("c_attn", "c_proj", "c_fc"),
                    "openai-gpt", Set.of("c_attn", "c_proj", "c_fc"),
                    "gpt_bigcode", Set.of());

    private LinearWeights() {}

    /** The rule for a {@code model_type} (null: no Conv1D layers, embeddings by name). */
    public static BiPredicate<String, Shape> forModelType(String modelType) {
        Set<String> conv1d =
                modelType == null ? Set.of() : CONV1D.getOrDefault(modelType, Set.of());
        return (key, shape) -> {
            if (shape.dimension() != 2 || !key.endsWith(".weight")) {
                return false;
            }
            String module = key.substring(0, key.length() - ".weight".length());
            String last = module.substring(module.lastIndexOf('.') + 1);
            return !EMBEDDINGS.contains(last) && !conv1d.contains(last);
        };
    }

    /** The rule for the model in {@code folder}, from its config.json's {@code model_type}. */
    public static BiPredicate<String, Shape> forModel(Path folder) throws IOException {
        Path cfg = folder.resolve("config.json");
        String type = null;
        if (Files.isRegularFile(cfg)) {
            JsonObject o = JsonParser.parseString(Files.readString(cfg)).getAsJsonObject();
            JsonElement t = o.get("model_type");
            type = t != null && t.isJsonPrimitive() ? t.getAsString() : null;
        }
        return forModelType(type);
    }

    /** Exactly the 2-D tensors whose names fully match {@code regex}. */
    public static BiPredicate<String, Shape> matching(String regex) {
        Pattern p = Pattern.compile(regex);
        return (key, shape) -> shape.dimension() == 2 && p.matcher(key).matches();
    }
}
