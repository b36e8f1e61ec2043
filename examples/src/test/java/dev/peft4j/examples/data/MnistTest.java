package dev.peft4j.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MnistTest {

    @TempDir Path dir;

    /** Writes an IDX file by hand: magic {@code 0 0 type rank}, big-endian sizes, bytes. */
    private Path writeIdx(String name, int magic, int[] dims, byte[] data) throws IOException {
        Path file = dir.resolve(name);
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            out.writeInt(magic); // DataOutputStream is big-endian, as IDX requires
            for (int d : dims) {
                out.writeInt(d);
            }
            out.write(data);
        }
        return file;
    }

    /** Three 2x3 images whose pixel p of image i is 40 * i + 10 * p + 5 (max 205). */
    private static byte[] pixels() {
        byte[] data = new byte[3 * 6];
        for (int i = 0; i < 3; i++) {
            for (int p = 0; p < 6; p++) {
                data[i * 6 + p] = (byte) (40 * i + 10 * p + 5);
            }
        }
        data[17] = (byte) 255; // a value above 127 checks unsigned reading
        return data;
    }

    @Test
    void idxRoundTripGivesScaledImagesAndLabels() throws IOException {
        Path images = writeIdx("img", 0x0803, new int[] {3, 2, 3}, pixels());
        Path labels = writeIdx("lbl", 0x0801, new int[] {3}, new byte[] {7, 0, 9});
        MnistSet set = Mnist.read(images, labels);
        assertArrayEquals(new int[] {3, 2, 3}, new int[] {set.size(), set.rows(), set.cols()});
        assertArrayEquals(new int[] {7, 0, 9}, set.labels());
        byte[] raw = pixels();
        for (int i = 0; i < 3; i++) {
            for (int p = 0; p < 6; p++) {
                assertEquals((raw[i * 6 + p] & 0xFF) / 255f, set.images()[i][p], 0f);
            }
        }
        assertEquals(1f, set.images()[2][5], 0f);
    }

    @Test
    void badMagicIsReportedWithTheFile() throws IOException {
        Path gz = writeIdx("gzipped", 0x1f8b0800, new int[] {1}, new byte[] {0});
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> Idx.readUnsignedBytes(gz, 1));
        assertTrue(
                e.getMessage().contains(gz.toString()) && e.getMessage().contains("IDX"),
                e.getMessage());
        Path labelsAsImages = writeIdx("lbl", 0x0801, new int[] {1}, new byte[] {3});
        e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> Idx.readUnsignedBytes(labelsAsImages, 3));
        assertTrue(
                e.getMessage().contains("0x00000801") && e.getMessage().contains("0x00000803"),
                e.getMessage());
    }

    @Test
    void truncatedDataAndNonDigitLabelsAreRejected() throws IOException {
        Path shortFile = writeIdx("short", 0x0803, new int[] {2, 2, 2}, new byte[7]);
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class, () -> Idx.readUnsignedBytes(shortFile, 3));
        assertTrue(e.getMessage().contains("need 8 data bytes, the file has 7"), e.getMessage());
        Path images = writeIdx("img", 0x0803, new int[] {1, 1, 1}, new byte[1]);
        Path labels = writeIdx("lbl", 0x0801, new int[] {1}, new byte[] {10});
        e = assertThrows(IllegalArgumentException.class, () -> Mnist.read(images, labels));
        assertTrue(e.getMessage().contains("label 10"), e.getMessage());
    }

    @Test
    void arraysHaveTheDjlLayout() throws IOException {
        MnistSet set =
                Mnist.read(
                        writeIdx("img", 0x0803, new int[] {3, 2, 3}, pixels()),
                        writeIdx("lbl", 0x0801, new int[] {3}, new byte[] {7, 0, 9}));
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray images = set.imageArray(manager);
            assertEquals(new Shape(3, 1, 2, 3), images.getShape());
            assertEquals(DataType.FLOAT32, images.getDataType());
            assertArrayEquals(set.images()[1], images.get(1).toFloatArray(), 0f);
            NDArray labels = set.labelArray(manager);
            assertEquals(DataType.INT64, labels.getDataType());
            assertArrayEquals(new long[] {7, 0, 9}, labels.toLongArray());
        }
    }
}
