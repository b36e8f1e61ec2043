package dev.peft4j.core.io;

import ai.djl.ndarray.NDManager;
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
 * The safetensors reader refuses any bad file cleanly, naming it ({@link Refusals}): header
 * length, JSON header, dtypes, shapes, offsets and the data are all under the fuzzer's control,
 * and every tensor that opens is loaded. The corpus ({@code SafetensorsFuzzTestInputs}) was
 * written by {@code safetensors_corpus.py} beside this test.
 */
class SafetensorsFuzzTest {

    private static Path dir;
    private static NDManager manager;

    @BeforeAll
    static void open() throws IOException {
        dir = Files.createTempDirectory("safetensors-fuzz");
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() throws IOException {
        manager.close();
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    @FuzzTest(maxDuration = "60s")
    void readerRefusesBadFilesCleanly(byte[] data) {
        Path file = dir.resolve("fuzz.safetensors");
        try {
            Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Refusals.refusesCleanly(
                file.toString(),
                () -> {
                    try (SafetensorsReader reader = SafetensorsReader.open(file);
                            NDManager scope = manager.newSubManager()) {
                        reader.metadata();
                        for (String key : reader.keys()) {
                            reader.info(key);
                            reader.load(key, scope);
                        }
                    }
                });
    }

    @Test
    void seededMutationsOfTheCorpusAreRefusedCleanly() throws IOException {
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "readerRefusesBadFilesCleanly"),
                20261204,
                this::readerRefusesBadFilesCleanly);
    }
}
