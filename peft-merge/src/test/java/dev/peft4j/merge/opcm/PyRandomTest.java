package dev.peft4j.merge.opcm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A seeded shuffle equals CPython's random.seed + random.shuffle ({@code py_shuffle_reference.py}). */
class PyRandomTest {

    @Test
    void shuffleEqualsCpythons() throws IOException {
        JsonArray cases;
        try (InputStream in = PyRandomTest.class.getResourceAsStream("shuffles.json")) {
            cases =
                    JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                            .getAsJsonArray();
        }
        for (JsonElement e : cases) {
            JsonObject c = e.getAsJsonObject();
            List<Integer> x = new ArrayList<>();
            for (int i = 0; i < c.get("n").getAsInt(); i++) {
                x.add(i);
            }
            new PyRandom(c.get("seed").getAsLong()).shuffle(x);
            List<Integer> want = new ArrayList<>();
            c.getAsJsonArray("order").forEach(v -> want.add(v.getAsInt()));
            assertEquals(want, x, "seed " + c.get("seed") + ", n " + c.get("n"));
        }
    }
}
