package dev.peft4j.cli;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peft4j.core.testing.Refusals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A merge file ({@code peft merge -c}) is read or refused cleanly, naming the file ({@link
 * Refusals}): YAML or JSON, every key, value and size under the fuzzer's control. Corpus: the
 * examples of docs/formats.md in {@code MergeConfigFuzzTestInputs}.
 */
class MergeConfigFuzzTest {

    private static Path dir;

    @BeforeAll
    static void open() throws IOException {
        dir = Files.createTempDirectory("merge-config-fuzz");
    }

    @AfterAll
    static void close() throws IOException {
        Files.deleteIfExists(dir.resolve("merge.yaml"));
        Files.delete(dir);
    }

    @FuzzTest(maxDuration = "60s")
    void readRefusesCleanly(byte[] data) {
        Path file = dir.resolve("merge.yaml");
        try {
            Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Refusals.refusesCleanly(file.toString(), () -> MergeConfig.read(file));
    }

    @Test
    void seededMutationsOfTheCorpusAreRefusedCleanly() throws IOException {
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "readRefusesCleanly"),
                20261204,
                this::readRefusesCleanly);
    }
}
