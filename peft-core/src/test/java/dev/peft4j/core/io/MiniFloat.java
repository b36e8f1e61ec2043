package dev.peft4j.core.io;

import java.util.Random;

/**
 * A test-side reference for small IEEE-754 binary formats (float16, bfloat16), written from the
 * format definition (value = 2^(e - bias) * (1 + m / 2^mantissaBits), subnormals, round to nearest
 * with ties to even by comparing exact double distances) rather than by bit tricks, so it checks
 * the production conversions independently.
 */
final class MiniFloat {

    static final MiniFloat FLOAT16 = new MiniFloat(5, 10);
    static final MiniFloat BFLOAT16 = new MiniFloat(8, 7);

    private final int exponentBits;
    private final int mantissaBits;
    private final int bias;
    private final int infinityBits;

    private MiniFloat(int exponentBits, int mantissaBits) {
        this.exponentBits = exponentBits;
        this.mantissaBits = mantissaBits;
        this.bias = (1 << (exponentBits - 1)) - 1;
        this.infinityBits = ((1 << exponentBits) - 1) << mantissaBits;
    }

    /** The exact value of a bit pattern. */
    double decode(int bits) {
        int sign = (bits >> (exponentBits + mantissaBits)) & 1;
        int exponent = (bits >> mantissaBits) & ((1 << exponentBits) - 1);
        int mantissa = bits & ((1 << mantissaBits) - 1);
        double magnitude;
        if (exponent == (1 << exponentBits) - 1) {
            magnitude = mantissa == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (exponent == 0) {
            magnitude = Math.scalb((double) mantissa, 1 - bias - mantissaBits);
        } else {
            magnitude =
                    Math.scalb(1.0 + Math.scalb((double) mantissa, -mantissaBits), exponent - bias);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    /** The nearest bit pattern to {@code value}, ties to even; NaN is not handled here. */
    int encode(double value) {
        int signBit =
                (Double.doubleToRawLongBits(value) < 0 ? 1 : 0) << (exponentBits + mantissaBits);
        double x = Math.abs(value);
        if (Double.isInfinite(x)) {
            return signBit | infinityBits;
        }
        // positive patterns are ordered like their values: binary search the largest one <= x
        int lo = 0;
        int hi = infinityBits - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (decode(mid) <= x) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        double below = decode(lo);
        // the pattern after the largest finite one is infinity, which rounds as if it were max +
        // ulp
        double above = lo + 1 == infinityBits ? below + (below - decode(lo - 1)) : decode(lo + 1);
        double toBelow = x - below;
        double toAbove = above - x;
        boolean up = toAbove < toBelow || (toAbove == toBelow && (lo & 1) == 1);
        return signBit | (up ? lo + 1 : lo);
    }

    /**
     * Floats that exercise narrowing: signed zeros, infinities, overflow and subnormal boundaries of
     * float16, exact ties of both formats (odd and even), then seeded random values over many
     * magnitudes and random bit patterns. No NaN.
     */
    static float[] roundingCases(long seed, int randomCount) {
        float[] fixed = {
            0f,
            -0f,
            1f,
            -1f,
            Float.MIN_VALUE,
            -Float.MIN_VALUE,
            Float.MAX_VALUE,
            -Float.MAX_VALUE,
            Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY,
            65504f,
            65519.996f,
            65520f,
            -65520f,
            1e-8f,
            2.9802322e-8f,
            3e-8f,
            6.1e-5f,
            6.097555e-5f,
            Float.intBitsToFloat(0x3F808000),
            Float.intBitsToFloat(0x3F818000), // bf16 ties: even below, even above
            Float.intBitsToFloat(0xC0408000),
            Float.intBitsToFloat(0x7F7F8000), // negative tie; tie to infinity
            1f + 0x1p-11f,
            1f + 3 * 0x1p-11f,
            2048f + 1f,
            2048f + 3f, // float16 ties
        };
        Random rnd = new Random(seed);
        float[] out = new float[fixed.length + 2 * randomCount];
        System.arraycopy(fixed, 0, out, 0, fixed.length);
        for (int i = 0; i < randomCount; i++) {
            out[fixed.length + i] =
                    (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(21) - 10));
            float bits;
            do {
                bits = Float.intBitsToFloat(rnd.nextInt());
            } while (Float.isNaN(bits));
            out[fixed.length + randomCount + i] = bits;
        }
        return out;
    }
}
