package dev.peft4j.init;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.testing.Refusals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code adapter_config.json} of every registered method and initializer (this module sees them
 * all) is read or refused cleanly, naming the file ({@link Refusals}). Corpus: {@code
 * adapter_config_corpus.py} beside this test.
 */
class AdapterConfigFuzzTest {

    private static Path dir;

    @BeforeAll
    static void open() throws IOException {
        dir = Files.createTempDirectory("adapter-config-fuzz");
    }

    @AfterAll
    static void close() throws IOException {
        Files.deleteIfExists(dir.resolve(AdapterCheckpoint.CONFIG_FILE));
        Files.delete(dir);
    }

    @FuzzTest(maxDuration = "60s")
    void readConfigRefusesCleanly(byte[] data) {
        Path file = dir.resolve(AdapterCheckpoint.CONFIG_FILE);
        try {
            Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Refusals.refusesCleanly(file.toString(), () -> AdapterCheckpoint.readConfig(dir));
    }

    @Test
    void seededMutationsOfTheCorpusAreRefusedCleanly() throws IOException {
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "readConfigRefusesCleanly"),
                20261204,
                this::readConfigRefusesCleanly);
    }
}
