package dev.peft4j.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * bfloat16 conversion in Java, because DJL 0.36's PyTorch engine aborts the JVM on any BFLOAT16
 * array. bfloat16 is the upper half of a float32, so widening is a 16-bit shift; narrowing rounds
 * to nearest, ties to even, like PyTorch's {@code c10::BFloat16}.
 */
final class BFloat16 {

    private static final int BLOCK = 1 << 16;

    private BFloat16() {}

    /** Rounds a float to the nearest bfloat16 bits, ties to even; every NaN becomes the canonical 0x7FC0. */
    static short fromFloat(float value) {
        if (Float.isNaN(value)) {
            return (short) 0x7FC0;
        }
        int bits = Float.floatToRawIntBits(value);
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** The float with the same value as the bfloat16 {@code bits}. */
    static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Widens little-endian bfloat16 data to a new direct little-endian float32 buffer. */
    static ByteBuffer widen(ByteBuffer bf16) {
        ShortBuffer in = bf16.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        ByteBuffer out =
                ByteBuffer.allocateDirect(in.remaining() * Float.BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer floats = out.asFloatBuffer();
        short[] shorts = new short[Math.min(BLOCK, in.remaining())];
        float[] block = new float[shorts.length];
        while (in.hasRemaining()) {
            int n = Math.min(shorts.length, in.remaining());
            in.get(shorts, 0, n);
            for (int i = 0; i < n; i++) {
                block[i] = toFloat(shorts[i]);
            }
            floats.put(block, 0, n);
        }
        return out;
    }

    /** Narrows float32 values to little-endian bfloat16 written to {@code out}; returns the bytes written. */
    static long narrow(FloatBuffer in, WritableByteChannel out) throws IOException {
        ByteBuffer staging =
                ByteBuffer.allocate(Math.min(BLOCK, in.remaining()) * Short.BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN);
        float[] block = new float[staging.capacity() / Short.BYTES];
        long written = 0;
        while (in.hasRemaining()) {
            int n = Math.min(block.length, in.remaining());
            in.get(block, 0, n);
            staging.clear();
            for (int i = 0; i < n; i++) {
                staging.putShort(fromFloat(block[i]));
            }
            written += TensorCodec.writeFully(out, staging.flip());
        }
        return written;
    }
}
