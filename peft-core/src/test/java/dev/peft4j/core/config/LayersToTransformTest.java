package dev.peft4j.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Module selection with {@code layers_to_transform} / {@code layers_pattern}, {@code
 * exclude_modules} and {@code modules_to_save} against {@code target_modules_reference.py}, a
 * transcription of PEFT's {@code check_target_module_exists}; and PEFT's config rules.
 */
class LayersToTransformTest {

    /** The shared fields only, as every method reads them. */
    private static final class Probe extends AdapterConfig {
        private Probe(Builder b) {
            super(b);
        }

        @Override
        public String peftType() {
            return "PROBE";
        }

        @Override
        public float recommendedLearningRate() {
            return 0;
        }

        @Override
        public Adapter createAdapter(AdapterContext context) {
            throw new UnsupportedOperationException();
        }

        @Override
        protected void writeFields(JsonObject json) {}

        static final class Builder extends AdapterConfig.Builder<Builder> {
            @Override
            protected Builder self() {
                return this;
            }

            @Override
            public Probe build() {
                validate();
                return new Probe(this);
            }
        }
    }

    private static Probe parse(JsonObject o) {
        return new Probe.Builder().readCommon(new ConfigJson(o, "adapter_config.json")).build();
    }

    @Test
    void selectionIsPefts() throws IOException {
        JsonObject ref;
        try (InputStream in = getClass().getResourceAsStream("target_modules.json")) {
            ref =
                    JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                            .getAsJsonObject();
        }
        List<String> paths = new ArrayList<>();
        ref.getAsJsonArray("paths").forEach(p -> paths.add(p.getAsString()));
        int cases = 0;
        for (JsonElement e : ref.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            Probe config = parse(c.getAsJsonObject("config"));
            List<String> selected = new ArrayList<>();
            for (String p : paths) {
                if (config.selects(p, true) && !config.insideModulesToSave(p)) {
                    selected.add(p);
                }
            }
            List<String> expected = new ArrayList<>();
            c.getAsJsonArray("selected").forEach(p -> expected.add(p.getAsString()));
            assertEquals(expected, selected, c.getAsJsonObject("config").toString());
            // the saved form reads back to the same selection
            Probe again = parse(config.toJson());
            for (String p : paths) {
                assertEquals(config.selects(p, true), again.selects(p, true), p);
            }
            cases++;
        }
        assertEquals(11, cases);
    }

    @Test
    void peftsConfigRulesAreErrorsNamingTheKey() {
        String[] bad = {
            "{\"target_modules\": \".*q_proj\", \"layers_to_transform\": [0]}",
            "{\"target_modules\": [\"q_proj\"], \"layers_pattern\": \"layers\"}",
            "{\"target_modules\": [\"q_proj\"], \"layers_to_transform\": [-1]}",
            "{\"target_modules\": [\"q_proj\"], \"layers_to_transform\": \"all\"}",
        };
        String[] named = {
            "layers_to_transform", "layers_pattern", "layers_to_transform", "layers_to_transform"
        };
        for (int i = 0; i < bad.length; i++) {
            JsonObject o = JsonParser.parseString(bad[i]).getAsJsonObject();
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> parse(o), bad[i]);
            assertTrue(e.getMessage().contains(named[i]), e.getMessage());
        }
    }
}
