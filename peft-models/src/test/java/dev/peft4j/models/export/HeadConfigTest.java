package dev.peft4j.models.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.peft4j.models.bert.Pooling;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HeadConfigTest {

    @TempDir Path tmp;

    @Test
    void roundTripsAndWritesTransformersLabelMaps() throws Exception {
        HeadConfig head = new HeadConfig(Pooling.CLS, List.of("spam", "ham", "10"), 64);
        head.write(tmp);
        assertEquals(head, HeadConfig.read(tmp));
        assertEquals("{\"0\":\"spam\",\"1\":\"ham\",\"2\":\"10\"}", head.id2label().toString());
        assertEquals("{\"spam\":0,\"ham\":1,\"10\":2}", head.label2id().toString());
        assertNull(HeadConfig.read(tmp.resolve("none")), "no file, no head config");
    }

    @Test
    void badFilesAreRefusedNamingTheFileAndKey() throws Exception {
        assertRefused(
                "{\"pooling\": \"max\", \"id2label\": {\"0\": \"a\"}, \"max_length\": 8}",
                "'pooling'",
                "max");
        assertRefused(
                "{\"pooling\": \"mean\", \"id2label\": {\"0\": \"a\", \"2\": \"b\"},"
                        + " \"max_length\": 8}",
                "'id2label'",
                "0 to 1");
        assertRefused(
                "{\"pooling\": \"mean\", \"id2label\": {\"x\": \"a\"}, \"max_length\": 8}",
                "'id2label'",
                "'x'");
        assertRefused(
                "{\"pooling\": \"mean\", \"id2label\": {\"0\": 3}, \"max_length\": 8}",
                "'id2label'",
                "not a string");
        assertRefused(
                "{\"pooling\": \"mean\", \"id2label\": {\"0\": \"a\"}, \"max_length\": 8.5}",
                "'max_length'",
                "integer");
        assertRefused(
                "{\"pooling\": \"mean\", \"id2label\": {\"0\": \"a\"}, \"max_length\": 1}",
                HeadConfig.FILE,
                "at least 2");
        assertRefused(
                "{\"id2label\": {\"0\": \"a\"}, \"max_length\": 8}",
                "'pooling'",
                "expected a string");
    }

    private void assertRefused(String json, String... parts) throws Exception {
        Files.writeString(tmp.resolve(HeadConfig.FILE), json);
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> HeadConfig.read(tmp));
        assertTrue(
                e.getMessage().contains(tmp.resolve(HeadConfig.FILE).toString()), e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), e.getMessage());
        }
    }
}
