package dev.peft4j.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonParser;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TargetModulesTest {

    private static final List<String> PATHS =
            List.of(
                    "encoder.layer.0.attention.self.query",
                    "encoder.layer.0.attention.self.key",
                    "encoder.layer.0.attention.output.dense",
                    "encoder.layer.0.output.dense",
                    "classifier");

    @Test
    void namesMatchExactlyOrAsDottedSuffix() {
        TargetModules t = TargetModules.names("query", "output.dense");
        assertTrue(t.matches("encoder.layer.0.attention.self.query", true));
        assertTrue(t.matches("encoder.layer.0.output.dense", true));
        assertTrue(t.matches("encoder.layer.0.attention.output.dense", true));
        assertFalse(t.matches("encoder.layer.0.attention.self.xquery", true));
        assertFalse(t.matches("encoder.layer.0.attention.self.key", true));
    }

    @Test
    void regexMustMatchTheWholePath() {
        TargetModules t = TargetModules.regex(".*layer\\.0\\..*(query|key)");
        assertTrue(t.matches("encoder.layer.0.attention.self.key", true));
        assertFalse(t.matches("encoder.layer.10.attention.self.key", true));
        assertFalse(
                TargetModules.regex("query").matches("encoder.layer.0.attention.self.query", true));
    }

    @Test
    void allLinearSkipsTheOutputHeadAndNonLinearModules() {
        TargetModules t = TargetModules.allLinear();
        assertTrue(t.matches("encoder.layer.0.output.dense", true));
        assertFalse(t.matches("classifier", true));
        assertFalse(t.matches("encoder.layer.0.output.LayerNorm", false));
        assertEquals("\"all-linear\"", t.toJson().toString());
    }

    @Test
    void unmatchedNameIsAnErrorListingTheClosestPaths() {
        TargetModules t = TargetModules.names("query", "valeu");
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                t.requireAllMatched(
                                        PATHS, List.of("encoder.layer.0.attention.self.query")));
        assertTrue(e.getMessage().contains("[valeu]"), e.getMessage());
        assertTrue(e.getMessage().contains("Closest to 'valeu'"), e.getMessage());
    }

    @Test
    void jsonFormsRoundTrip() {
        TargetModules names =
                TargetModules.fromJson(JsonParser.parseString("[\"value\",\"query\"]"), "t");
        assertEquals("[\"query\",\"value\"]", names.toJson().toString());
        TargetModules regex = TargetModules.fromJson(JsonParser.parseString("\".*q\""), "t");
        assertTrue(regex.matches("a.q", true));
        assertThrows(IllegalArgumentException.class, () -> TargetModules.regex("(unclosed"));
        assertThrows(IllegalArgumentException.class, () -> TargetModules.names(List.of()));
    }

    @Test
    void patternMapTakesTheFirstPatternMatchingThePathEnd() {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("layer\\.0\\..*query", 16);
        m.put("query", 4);
        PatternMap p = new PatternMap(m);
        assertEquals(16, p.resolve("encoder.layer.0.attention.self.query", 8));
        assertEquals(4, p.resolve("encoder.layer.1.attention.self.query", 8));
        assertEquals(8, p.resolve("encoder.layer.1.attention.self.xquery", 8));
        assertEquals(8, p.resolve("encoder.layer.1.attention.self.key", 8));
        assertEquals(p.values(), PatternMap.fromJson(p.toJson(), "rank_pattern").values());
    }
}
