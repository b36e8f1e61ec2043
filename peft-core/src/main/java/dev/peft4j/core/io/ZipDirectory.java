package dev.peft4j.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The central directory of a ZIP archive (PKWARE APPNOTE 4.3, with ZIP64), giving where each
 * stored entry's data lies in the file, so tensor data can be mapped in place as safetensors data
 * is. PyTorch's {@code torch.save} writes uncompressed (stored) entries.
 */
final class ZipDirectory {

    /** One entry: its data's absolute offset and size, and its compression method (0: stored). */
    record Entry(String name, long dataOffset, long size, int method) {}

    private static final int EOCD = 0x06054b50;
    private static final int ZIP64_LOCATOR = 0x07064b50;
    private static final int ZIP64_EOCD = 0x06064b50;
    private static final int CENTRAL = 0x02014b50;
    private static final int LOCAL = 0x04034b50;

    private ZipDirectory() {}

    static Map<String, Entry> read(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        int tail = (int) Math.min(size, 22 + 65535);
        ByteBuffer end = read(ch, size - tail, tail);
        int eocd = -1;
        for (int i = tail - 22; i >= 0; i--) {
            if (end.getInt(i) == EOCD) {
                eocd = i;
                break;
            }
        }
        if (eocd < 0) {
            throw new CheckpointFormatException(
                    file, null, "not a ZIP archive (no end of central directory)");
        }
        long count = Short.toUnsignedLong(end.getShort(eocd + 10));
        long dirSize = Integer.toUnsignedLong(end.getInt(eocd + 12));
        long dirOffset = Integer.toUnsignedLong(end.getInt(eocd + 16));
        long eocdPos = size - tail + eocd;
        if (eocdPos >= 20) {
            ByteBuffer loc = read(ch, eocdPos - 20, 20);
            if (loc.getInt(0) == ZIP64_LOCATOR) {
                ByteBuffer z = read(ch, loc.getLong(8), 56);
                if (z.getInt(0) != ZIP64_EOCD) {
                    throw new CheckpointFormatException(
                            file, null, "corrupt ZIP64 end of central directory");
                }
                count = z.getLong(32);
                dirSize = z.getLong(40);
                dirOffset = z.getLong(48);
            }
        }
        if (dirOffset + dirSize > size || dirSize > Integer.MAX_VALUE) {
            throw new CheckpointFormatException(
                    file, null, "ZIP central directory out of the file's bounds");
        }
        ByteBuffer dir = read(ch, dirOffset, (int) dirSize);
        Map<String, Entry> out = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > dir.limit() || dir.getInt(p) != CENTRAL) {
                throw new CheckpointFormatException(
                        file, null, "corrupt ZIP central directory entry " + i);
            }
            int method = Short.toUnsignedInt(dir.getShort(p + 10));
            long compressed = Integer.toUnsignedLong(dir.getInt(p + 20));
            long uncompressed = Integer.toUnsignedLong(dir.getInt(p + 24));
            int nameLen = Short.toUnsignedInt(dir.getShort(p + 28));
            int extraLen = Short.toUnsignedInt(dir.getShort(p + 30));
            int commentLen = Short.toUnsignedInt(dir.getShort(p + 32));
            long local = Integer.toUnsignedLong(dir.getInt(p + 42));
            byte[] nameBytes = new byte[nameLen];
            dir.get(p + 46, nameBytes);
            String name = new String(nameBytes, StandardCharsets.UTF_8);
            // ZIP64 extended information: the fields that are 0xFFFFFFFF, in this order
            int x = p + 46 + nameLen;
            int xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = Short.toUnsignedInt(dir.getShort(x));
                int len = Short.toUnsignedInt(dir.getShort(x + 2));
                if (id == 1) {
                    int q = x + 4;
                    if (uncompressed == 0xFFFFFFFFL) {
                        uncompressed = dir.getLong(q);
                        q += 8;
                    }
                    if (compressed == 0xFFFFFFFFL) {
                        compressed = dir.getLong(q);
                        q += 8;
                    }
                    if (local == 0xFFFFFFFFL) {
                        local = dir.getLong(q);
                    }
                }
                x += 4 + len;
            }
            ByteBuffer lh = read(ch, local, 30);
            if (lh.getInt(0) != LOCAL) {
                throw new CheckpointFormatException(
                        file, null, "corrupt ZIP local header of '" + name + "'");
            }
            long data =
                    local
                            + 30
                            + Short.toUnsignedInt(lh.getShort(26))
                            + Short.toUnsignedInt(lh.getShort(28));
            if (data + compressed > size) {
                throw new CheckpointFormatException(
                        file, null, "ZIP entry '" + name + "' runs past the end of the file");
            }
            out.put(name, new Entry(name, data, method == 0 ? uncompressed : compressed, method));
            p += 46 + nameLen + extraLen + commentLen;
        }
        return out;
    }

    /** {@code length} bytes at {@code position}, little-endian. */
    static ByteBuffer read(FileChannel ch, long position, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) {
                throw new java.io.EOFException(
                        "unexpected end of file at " + (position + b.position()));
            }
        }
        return b.flip();
    }
}
