package dev.peft4j.models.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A cursor over one protobuf message in wire format: enough of protobuf to walk an ONNX model
 * without a protobuf dependency. Length-delimited fields come back as slices of the same buffer,
 * so large tensors are never copied while parsing.
 */
final class ProtoReader {

    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final ByteBuffer buf;
    private final long base;
    private int wireType;
    private long sliceOffset;

    /**
     * Reads the message spanning the remaining bytes of {@code message}.
     *
     * @param message the encoded message (not modified)
     * @param base the file offset of {@code message}'s first byte, for {@link #sliceOffset()}
     */
    ProtoReader(ByteBuffer message, long base) {
        buf = message.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.base = base;
    }

    /** Returns the read position, relative to the start of this message. */
    int position() {
        return buf.position();
    }

    /** Returns bytes {@code [from, to)} of this message (positions from {@link #position()}). */
    ByteBuffer span(int from, int to) {
        return buf.duplicate().position(from).limit(to).slice();
    }

    /** Returns whether another field follows. */
    boolean hasNext() {
        return buf.hasRemaining();
    }

    /** Reads the next field's key and returns its field number. */
    int nextField() {
        long key = varint();
        wireType = (int) (key & 7);
        return (int) (key >>> 3);
    }

    /** Returns the wire type of the field just read by {@link #nextField()}. */
    int wireType() {
        return wireType;
    }

    /** Reads a varint field value. */
    long varint() {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            require(1);
            byte b = buf.get();
            result |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return result;
            }
        }
        throw new IllegalArgumentException("malformed protobuf varint at byte " + buf.position());
    }

    /** Reads a length-delimited field value as a slice (a sub-message, bytes or packed values). */
    ByteBuffer bytes() {
        long length = varint();
        if (length < 0 || length > buf.remaining()) {
            throw new IllegalArgumentException(
                    "protobuf field of "
                            + length
                            + " bytes overruns its message at byte "
                            + buf.position());
        }
        sliceOffset = base + buf.position();
        ByteBuffer slice = buf.slice().limit((int) length).order(ByteOrder.LITTLE_ENDIAN);
        buf.position(buf.position() + (int) length);
        return slice;
    }

    /** Returns the file offset of the last slice {@link #bytes()} returned. */
    long sliceOffset() {
        return sliceOffset;
    }

    /** Returns a reader over the last slice {@link #bytes()} returned (a sub-message). */
    ProtoReader message(ByteBuffer slice) {
        return new ProtoReader(slice, sliceOffset);
    }

    /** Reads a length-delimited field value as UTF-8 text. */
    String string() {
        ByteBuffer b = bytes();
        byte[] text = new byte[b.remaining()];
        b.get(text);
        return new String(text, StandardCharsets.UTF_8);
    }

    /** Reads a 4-byte little-endian field value as a float. */
    float fixed32Float() {
        require(4);
        return buf.getFloat();
    }

    /** Throws unless {@code bytes} more bytes remain in this message. */
    private void require(int bytes) {
        if (buf.remaining() < bytes) {
            throw new IllegalArgumentException(
                    "protobuf message ends at byte "
                            + buf.position()
                            + " inside a value of "
                            + bytes
                            + " more byte(s)");
        }
    }

    /** Skips the value of the field just read. */
    void skip() {
        switch (wireType) {
            case VARINT:
                varint();
                break;
            case FIXED64:
                require(8);
                buf.position(buf.position() + 8);
                break;
            case LENGTH_DELIMITED:
                bytes();
                break;
            case FIXED32:
                require(4);
                buf.position(buf.position() + 4);
                break;
            default:
                throw new IllegalArgumentException(
                        "unsupported protobuf wire type "
                                + wireType
                                + " at byte "
                                + buf.position());
        }
    }
}
