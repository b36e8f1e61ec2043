package dev.peft4j.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every kind of malformed file fails on open with a message naming the file, the tensor and the problem. */
class SafetensorsCorruptTest {

    private static final String A =
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";
    private static final String B =
            "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}";
    private static final byte[] DATA = new byte[32];

    @TempDir Path dir;

    static Stream<Arguments> corruptHeaders() {
        return Stream.of(
                bad("not JSON", "{\"a\":", DATA, "a", "not valid safetensors JSON"),
                bad("JSON array", "[1,2]", DATA, null, "not an object"),
                bad(
                        "trailing content",
                        "{" + A + "," + B + "}x",
                        DATA,
                        null,
                        "not valid safetensors JSON"),
                bad("lenient JSON", "{a:{}}", DATA, null, "not valid safetensors JSON"),
                bad(
                        "unknown dtype",
                        "{" + A.replace("F32", "F8_E4M3") + "," + B + "}",
                        DATA,
                        "a",
                        "unsupported dtype \"F8_E4M3\""),
                bad(
                        "missing field",
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3]}," + B + "}",
                        DATA,
                        "a",
                        "needs \"dtype\", \"shape\" and \"data_offsets\""),
                bad(
                        "byte length vs shape",
                        "{" + A.replace("[2,3]", "[2,2]") + "," + B + "}",
                        DATA,
                        "a",
                        "needs 16 bytes but data_offsets [0, 24] span 24"),
                bad(
                        "overlap",
                        "{" + A + "," + B.replace("[24,32]", "[16,24]") + "}",
                        new byte[24],
                        "b",
                        "overlap tensor 'a' which ends at 24"),
                bad(
                        "gap",
                        "{" + A + "," + B.replace("[24,32]", "[28,36]") + "}",
                        new byte[36],
                        "b",
                        "gap of 4 bytes"),
                bad(
                        "truncated data",
                        "{" + A + "," + B + "}",
                        new byte[30],
                        "b",
                        "extend beyond the 30-byte data region"),
                bad(
                        "trailing data",
                        "{" + A + "," + B + "}",
                        new byte[40],
                        null,
                        "cover 32 bytes but the data region after the header holds 40"),
                bad("duplicate name", "{" + A + "," + A + "}", DATA, "a", "appears twice"),
                bad(
                        "reversed offsets",
                        "{" + A.replace("[0,24]", "[24,0]") + "}",
                        DATA,
                        "a",
                        "must be two numbers [begin, end]"),
                bad(
                        "negative dimension",
                        "{" + A.replace("[2,3]", "[-2,3]") + "}",
                        DATA,
                        "a",
                        "negative value -2"),
                bad(
                        "quoted number",
                        "{" + A.replace("[2,3]", "[\"2\",3]") + "}",
                        DATA,
                        "a",
                        "expected non-negative integers"),
                bad(
                        "metadata not strings",
                        "{\"__metadata__\":{\"n\":1}," + A + "," + B + "}",
                        DATA,
                        null,
                        "expected a string"),
                bad(
                        "shape overflow",
                        "{" + A.replace("[2,3]", "[4611686018427387904,4]") + "}",
                        DATA,
                        "a",
                        "overflows"));
    }

    private static Arguments bad(
            String label, String header, byte[] data, String tensor, String phrase) {
        return Arguments.of(label, TestFiles.safetensors(header, data), tensor, phrase);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corruptHeaders")
    void corruptHeaderIsRejected(String label, byte[] content, String tensor, String phrase)
            throws IOException {
        Path file = dir.resolve(label.replace(' ', '_') + ".safetensors");
        Files.write(file, content);
        assertRejected(file, tensor, phrase);
    }

    @Test
    void fileShorterThanTheLengthFieldIsRejected() throws IOException {
        Path file = dir.resolve("short.safetensors");
        Files.write(file, new byte[] {1, 2, 3, 4, 5});
        assertRejected(file, null, "5 bytes long, shorter than the 8-byte header length field");
    }

    @Test
    void truncatedHeaderIsRejected() throws IOException {
        byte[] whole = TestFiles.safetensors("{" + A + "," + B + "}", DATA);
        Path file = dir.resolve("cut.safetensors");
        Files.write(file, Arrays.copyOf(whole, 40));
        assertRejected(
                file,
                null,
                "header length " + TestFiles.headerLength(whole) + " exceeds the 32 bytes");
    }

    @Test
    void headerLengthBeyondTheFileIsRejected() throws IOException {
        byte[] content = TestFiles.safetensors("{}", new byte[0]);
        ByteBuffer.wrap(content)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(0, -1L); // 2^64 - 1 unsigned
        Path file = dir.resolve("huge.safetensors");
        Files.write(file, content);
        assertRejected(file, null, "header length 18446744073709551615 exceeds");
    }

    @Test
    void absurdHeaderLengthIsRejectedEvenWhenTheFileIsLargeEnough() throws IOException {
        Path file = dir.resolve("absurd.safetensors");
        long n = 150_000_000L;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(8 + n); // sparse: costs no disk
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array());
        }
        assertRejected(file, null, "exceeds the limit of 100000000 bytes");
    }

    @Test
    void headerThatIsNotUtf8IsRejected() throws IOException {
        byte[] content = TestFiles.safetensors("{\"\u00e9\":1}", new byte[0]);
        content[10] = (byte) 0xFF; // breaks the two-byte sequence of é
        Path file = dir.resolve("latin.safetensors");
        Files.write(file, content);
        assertRejected(file, null, "not valid UTF-8");
    }

    @Test
    void fileTruncatedAfterOpeningFailsCleanlyInsteadOfCrashing() throws IOException {
        Path file = dir.resolve("shrinking.safetensors");
        Files.write(file, TestFiles.safetensors("{" + A + "," + B + "}", DATA));
        try (SafetensorsReader reader = SafetensorsReader.open(file);
                NDManager manager = NDManager.newBaseManager()) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(Files.size(file) - 4);
            }
            CheckpointFormatException e =
                    assertThrows(CheckpointFormatException.class, () -> reader.load("b", manager));
            assertEquals("b", e.tensor());
            assertTrue(e.getMessage().contains("shrank"), e.getMessage());
        }
    }

    private static void assertRejected(Path file, String tensor, String phrase) {
        CheckpointFormatException e =
                assertThrows(CheckpointFormatException.class, () -> SafetensorsReader.open(file));
        assertEquals(file, e.file());
        assertEquals(tensor, e.tensor());
        String m = e.getMessage();
        assertTrue(m.contains(file.toString()), m);
        assertTrue(m.contains(phrase), "expected '" + phrase + "' in: " + m);
        if (tensor != null) {
            assertTrue(m.contains("'" + tensor + "'"), m);
        }
    }
}
