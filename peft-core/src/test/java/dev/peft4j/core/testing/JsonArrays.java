package dev.peft4j.core.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The JSON files the NumPy reference scripts beside the tests write, as arrays. */
public final class JsonArrays {

    private JsonArrays() {}

    /** The JSON object resource {@code name} next to {@code owner}. */
    public static JsonObject resource(Class<?> owner, String name) {
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + name);
            }
            return JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A nested JSON array of numbers (a number: a scalar) as a float32 array of its shape. */
    public static NDArray array(NDManager manager, JsonElement nested) {
        List<Long> dims = new ArrayList<>();
        JsonElement e = nested;
        while (e.isJsonArray()) {
            dims.add((long) e.getAsJsonArray().size());
            e = e.getAsJsonArray().get(0);
        }
        List<Float> values = new ArrayList<>();
        flatten(nested, values);
        float[] v = new float[values.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = values.get(i);
        }
        return manager.create(v, new Shape(dims.stream().mapToLong(Long::longValue).toArray()));
    }

    private static void flatten(JsonElement e, List<Float> out) {
        if (e.isJsonArray()) {
            e.getAsJsonArray().forEach(x -> flatten(x, out));
        } else {
            out.add(e.getAsFloat());
        }
    }
}
