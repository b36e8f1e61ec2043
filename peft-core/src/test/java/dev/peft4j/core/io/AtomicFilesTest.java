package dev.peft4j.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A failed write never changes what is under the final name and leaves no temporary files. */
class AtomicFilesTest {

    @TempDir Path dir;

    @Test
    void writeReplacesTheFileAndLeavesNothingElse() throws IOException {
        Path target = dir.resolve("config.json");
        Files.writeString(target, "old");
        AtomicFiles.writeBytes(target, "new".getBytes(StandardCharsets.UTF_8));
        assertEquals("new", Files.readString(target));
        assertArrayEquals(new String[] {"config.json"}, TestFiles.list(dir));
    }

    @Test
    void failingWriteKeepsTheOldFileByteIdentical() throws IOException {
        Path target = dir.resolve("weights.bin");
        byte[] old = randomBytes(100_000, 1);
        Files.write(target, old);
        IOException e =
                assertThrows(
                        IOException.class,
                        () ->
                                AtomicFiles.write(
                                        target,
                                        out -> {
                                            out.write(randomBytes(300_000, 2));
                                            throw new IOException("disk on fire");
                                        }));
        assertEquals("disk on fire", e.getMessage());
        assertArrayEquals(old, Files.readAllBytes(target));
        assertArrayEquals(new String[] {"weights.bin"}, TestFiles.list(dir));
    }

    /**
     * What a writer killed between the two renames of a directory replacement leaves (the old
     * folder renamed aside, the new one still in staging, no folder under the name) is repaired
     * by recover and by the next write: the old folder is back, the staging gone.
     */
    @Test
    void recoverRestoresAFolderKilledBetweenTheRenamesAndCleansStaging() throws IOException {
        Path target = dir.resolve("adapter");
        Path aside = dir.resolve("adapter.old-5f3a");
        Files.createDirectories(aside);
        Files.writeString(aside.resolve("adapter_config.json"), "version 1");
        Path staging = dir.resolve("adapter.tmp-77c0");
        Files.createDirectories(staging);
        Files.writeString(staging.resolve("adapter_config.json"), "version 2, half");
        Files.writeString(dir.resolve("other.tmp-1"), "not ours");
        AtomicFiles.recover(target);
        assertEquals("version 1", Files.readString(target.resolve("adapter_config.json")));
        assertArrayEquals(new String[] {"adapter", "other.tmp-1"}, TestFiles.list(dir));

        // an old copy beside a published folder is only garbage: the folder stays as it is
        Files.createDirectories(aside);
        Files.writeString(aside.resolve("adapter_config.json"), "version 0");
        Path file = dir.resolve("config.json");
        Files.writeString(dir.resolve("config.json.tmp-9"), "half");
        AtomicFiles.publishDirectory(
                target, s -> Files.writeString(s.resolve("adapter_config.json"), "version 2"));
        AtomicFiles.writeBytes(file, "new".getBytes(StandardCharsets.UTF_8));
        assertEquals("version 2", Files.readString(target.resolve("adapter_config.json")));
        assertArrayEquals(
                new String[] {"adapter", "config.json", "other.tmp-1"}, TestFiles.list(dir));
    }

    @Test
    void writingOverADirectoryIsRefused() throws IOException {
        Path target = Files.createDirectory(dir.resolve("taken"));
        IOException e =
                assertThrows(IOException.class, () -> AtomicFiles.writeBytes(target, new byte[1]));
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
        assertArrayEquals(new String[] {"taken"}, TestFiles.list(dir));
    }

    @Test
    void safetensorsWriterAbandonedMidwayKeepsThePreviousFile() throws IOException {
        Path target = dir.resolve("adapter_model.safetensors");
        byte[] old = randomBytes(5000, 3);
        Files.write(target, old);
        try (NDManager manager = NDManager.newBaseManager()) {
            List<TensorSpec> layout =
                    List.of(
                            new TensorSpec("a", DataType.FLOAT32, new Shape(1000)),
                            new TensorSpec("b", DataType.FLOAT32, new Shape(1000)));
            RuntimeException e =
                    assertThrows(
                            RuntimeException.class,
                            () -> {
                                try (SafetensorsWriter writer =
                                        SafetensorsWriter.open(
                                                target, layout, Map.of("format", "pt"))) {
                                    writer.write("a", manager.ones(new Shape(1000)));
                                    throw new IllegalStateException("merge failed between tensors");
                                }
                            });
            assertEquals("merge failed between tensors", e.getMessage());
        }
        assertArrayEquals(old, Files.readAllBytes(target));
        assertArrayEquals(new String[] {"adapter_model.safetensors"}, TestFiles.list(dir));
    }

    @Test
    void publishDirectoryReplacesTheOldFolderWhole() throws IOException {
        Path target = dir.resolve("adapter");
        writeTree(target, Map.of("adapter_config.json", "old", "stale.txt", "gone soon"));
        AtomicFiles.publishDirectory(
                target,
                staging ->
                        writeTree(
                                staging,
                                Map.of(
                                        "adapter_config.json",
                                        "new",
                                        "sub/adapter_model.safetensors",
                                        "weights")));
        assertEquals(
                Map.of("adapter_config.json", "new", "sub/adapter_model.safetensors", "weights"),
                readTree(target));
        assertArrayEquals(new String[] {"adapter"}, TestFiles.list(dir));
    }

    @Test
    void failedPublicationKeepsTheOldFolderAndLeavesNoStagingBehind() throws IOException {
        Path target = dir.resolve("adapter");
        Map<String, String> old = Map.of("adapter_config.json", "old", "nested/a.bin", "x");
        writeTree(target, old);
        assertThrows(
                IOException.class,
                () ->
                        AtomicFiles.publishDirectory(
                                target,
                                staging -> {
                                    writeTree(staging, Map.of("adapter_config.json", "half"));
                                    throw new IOException("interrupted");
                                }));
        assertEquals(old, readTree(target));
        assertArrayEquals(new String[] {"adapter"}, TestFiles.list(dir));

        Path fresh = dir.resolve("fresh");
        assertThrows(
                IOException.class,
                () ->
                        AtomicFiles.publishDirectory(
                                fresh,
                                staging -> {
                                    throw new IOException("interrupted");
                                }));
        assertFalse(Files.exists(fresh));
        assertArrayEquals(new String[] {"adapter"}, TestFiles.list(dir));
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void writeTree(Path root, Map<String, String> files) throws IOException {
        for (Map.Entry<String, String> e : files.entrySet()) {
            Path p = root.resolve(e.getKey());
            Files.createDirectories(p.getParent());
            Files.writeString(p, e.getValue());
        }
    }

    private static Map<String, String> readTree(Path root) throws IOException {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk.filter(Files::isRegularFile)::iterator) {
                files.put(root.relativize(p).toString(), Files.readString(p));
            }
        }
        return files;
    }
}
