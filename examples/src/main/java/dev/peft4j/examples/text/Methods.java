package dev.peft4j.examples.text;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The adapter configurations the text examples compare, by name: the {@link MethodCatalogue}'s
 * MiniLM-budget rows. Each targets the attention {@code query} and {@code value} projections of
 * MiniLM at about LoRA r 8's budget (NOLA, by design, trains far fewer numbers), trains the
 * {@code classifier} head in full (PEFT's {@code modules_to_save} for sequence classification) and
 * trains at its method's {@link AdapterConfig#recommendedLearningRate()}.
 */
public final class Methods {

    /** The modules every method adapts. */
    public static final List<String> TARGETS = List.of("query", "value");

    /** The head trained in full and saved with every adapter. */
    public static final String HEAD = "classifier";

    /** The {@code base_model_name_or_path} every config records. */
    public static final String BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2";

    /** A method of the comparison: its config and its Adam learning rate. */
    public record Method(String name, Supplier<AdapterConfig> config, float learningRate) {}

    private Methods() {}

    /** Every method by name, in table order. */
    public static Map<String, Method> all() {
        Map<String, Method> m = new LinkedHashMap<>();
        for (Entry e : MethodCatalogue.budgetRows()) {
            m.put(e.name(), of(e));
        }
        return m;
    }

    /** A method by name; an error listing the names otherwise. */
    public static Method byName(String name) {
        Method m = all().get(name);
        if (m == null) {
            throw new IllegalArgumentException(
                    "Unknown method '" + name + "'; methods: " + all().keySet());
        }
        return m;
    }

    private static Method of(Entry e) {
        Supplier<AdapterConfig> config = () -> e.budgetConfig(TARGETS, shared());
        return new Method(e.name(), config, config.get().recommendedLearningRate());
    }

    /** The shared options: the trained head, the task type and the base model's name. */
    private static JsonObject shared() {
        JsonObject o = new JsonObject();
        JsonArray head = new JsonArray();
        head.add(HEAD);
        o.add("modules_to_save", head);
        o.addProperty("task_type", "SEQ_CLS");
        o.addProperty("base_model_name_or_path", BASE_MODEL);
        return o;
    }
}
