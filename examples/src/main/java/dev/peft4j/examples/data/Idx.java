package dev.peft4j.examples.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Reads IDX files (the MNIST container): a big-endian header {@code 0x00 0x00 type ndims}, then
 * {@code ndims} big-endian 32-bit sizes, then the row-major data. Only type {@code 0x08}
 * (unsigned byte), the one MNIST uses, is supported.
 */
public final class Idx {

    /** The IDX type code of unsigned bytes. */
    public static final int UNSIGNED_BYTE = 0x08;

    private Idx() {}

    /**
     * The content of an unsigned-byte IDX file.
     *
     * @param dims the sizes of the dimensions, outermost first
     * @param data the values in row-major order (read them with {@code & 0xFF})
     */
    public record Array(int[] dims, byte[] data) {}

    /**
     * Reads an unsigned-byte IDX file with {@code expectedRank} dimensions.
     *
     * @param file the file to read
     * @param expectedRank the number of dimensions it must have (3 for images, 1 for labels)
     * @return the dimensions and data
     * @throws IllegalArgumentException naming the file when the header or size is wrong
     */
    public static Array readUnsignedBytes(Path file, int expectedRank) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read IDX file " + file, e);
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        if (bytes.length < 4 || bytes[0] != 0 || bytes[1] != 0) {
            throw new IllegalArgumentException(
                    file + ": not an IDX file (the magic number must start with two zero bytes)");
        }
        int type = bytes[2] & 0xFF;
        int rank = bytes[3] & 0xFF;
        if (type != UNSIGNED_BYTE || rank != expectedRank) {
            throw new IllegalArgumentException(
                    String.format(
                            "%s: IDX magic 0x%08X: expected 0x%08X (unsigned bytes, %d dimensions)",
                            file,
                            buffer.getInt(0),
                            (UNSIGNED_BYTE << 8) | expectedRank,
                            expectedRank));
        }
        if (bytes.length < 4 + 4 * rank) {
            throw new IllegalArgumentException(file + ": IDX header truncated");
        }
        int[] dims = new int[rank];
        long count = 1;
        for (int d = 0; d < rank; d++) {
            dims[d] = buffer.getInt(4 + 4 * d);
            count *= dims[d];
        }
        int offset = 4 + 4 * rank;
        if (dims.length > 0 && Arrays.stream(dims).min().getAsInt() < 0
                || bytes.length - offset != count) {
            throw new IllegalArgumentException(
                    String.format(
                            "%s: IDX dimensions %s need %d data bytes, the file has %d",
                            file, Arrays.toString(dims), count, bytes.length - offset));
        }
        return new Array(dims, Arrays.copyOfRange(bytes, offset, bytes.length));
    }
}
