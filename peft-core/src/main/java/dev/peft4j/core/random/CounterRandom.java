package dev.peft4j.core.random;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Counter-based random numbers that are a pure function of {@code (seed, stream, index)}.
 *
 * <p>The generator is Philox4x32-10 (Salmon, Moraes, Dror, Shaw 2011, "Parallel random numbers: as
 * easy as 1, 2, 3"), the generator behind cuRAND's and JAX's counter-based streams. Block {@code b}
 * of stream {@code s} is {@code philox(counter = (lo32(b), hi32(b), lo32(s), hi32(s)), key =
 * (lo32(seed), hi32(seed)))}; its four 32-bit words are values {@code 4b .. 4b+3} of the stream.
 * Because nothing is carried from one value to the next, any chunk of a sequence can be regenerated
 * bit-identically, in any order, on any machine, JVM or engine device: NOLA relies on this to
 * rebuild its frozen bases in chunks from a stored seed. All arithmetic is integer or {@link
 * StrictMath}, so results do not depend on the CPU or on JIT intrinsics.
 *
 * <p>Distributions (value {@code i} of a stream):
 *
 * <ul>
 *   <li>uniform: {@code (w_i >>> 8) * 2^-24}, a float in {@code [0, 1)} with 24 random bits;
 *   <li>normal: Box-Muller on the pair {@code j = i / 2}: {@code u1 = (w_2j + 0.5) 2^-32}, {@code
 *       u2 = w_2j+1 2^-32}, {@code r = sqrt(-2 ln u1)}; value {@code 2j} is {@code r cos(2 pi u2)},
 *       value {@code 2j+1} is {@code r sin(2 pi u2)}, computed in double and rounded to float.
 * </ul>
 *
 * A stream should be used for one distribution only: uniform and normal values of the same stream
 * are built from the same words.
 */
public final class CounterRandom {

    private static final int M0 = 0xD2511F53;
    private static final int M1 = 0xCD9E8D57;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final int ROUNDS = 10;
    private static final double TWO_POW_32 = 0x1p32;
    private static final float TWO_POW_MINUS_24 = 0x1p-24f;

    private final long seed;

    /**
     * Creates a generator for one seed.
     *
     * @param seed the 64-bit Philox key
     */
    public CounterRandom(long seed) {
        this.seed = seed;
    }

    /**
     * Returns the seed this generator was created with.
     *
     * @return the seed
     */
    public long seed() {
        return seed;
    }

    /**
     * The Philox4x32-10 bijection on one 128-bit counter under one 64-bit key (Random123 word
     * order).
     *
     * @param counter four 32-bit counter words
     * @param key two 32-bit key words
     * @return the four 32-bit output words
     */
    public static int[] philox4x32(int[] counter, int[] key) {
        if (counter.length != 4 || key.length != 2) {
            throw new IllegalArgumentException(
                    "philox4x32 needs 4 counter words and 2 key words, got "
                            + counter.length
                            + " and "
                            + key.length);
        }
        int[] out = new int[4];
        philox(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
        return out;
    }

    private static void philox(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < ROUNDS; round++) {
            long p0 = (M0 & 0xFFFFFFFFL) * (c0 & 0xFFFFFFFFL);
            long p1 = (M1 & 0xFFFFFFFFL) * (c2 & 0xFFFFFFFFL);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            c1 = (int) p1;
            c3 = (int) p0;
            c0 = n0;
            c2 = n2;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    private void block(long stream, long block, int[] out) {
        philox(
                (int) block,
                (int) (block >>> 32),
                (int) stream,
                (int) (stream >>> 32),
                (int) seed,
                (int) (seed >>> 32),
                out);
    }

    /**
     * Returns the raw 32-bit word {@code index} of a stream.
     *
     * @param stream the stream number
     * @param index the position in the stream (non-negative)
     * @return the word
     */
    public int word(long stream, long index) {
        checkIndex(index, 1);
        int[] w = new int[4];
        block(stream, index >>> 2, w);
        return w[(int) (index & 3)];
    }

    /**
     * Returns uniform value {@code index} of a stream, in {@code [0, 1)}.
     *
     * @param stream the stream number
     * @param index the position in the stream (non-negative)
     * @return the value
     */
    public float uniform(long stream, long index) {
        return toUniform(word(stream, index));
    }

    /**
     * Returns standard-normal value {@code index} of a stream.
     *
     * @param stream the stream number
     * @param index the position in the stream (non-negative)
     * @return the value
     */
    public float normal(long stream, long index) {
        float[] one = new float[1];
        fillNormal(stream, index, one, 0, 1);
        return one[0];
    }

    /**
     * Fills {@code out} with uniform values {@code offset .. offset + out.length - 1} of a stream.
     *
     * @param stream the stream number
     * @param offset the position of {@code out[0]} in the stream (non-negative)
     * @param out the array to fill
     */
    public void fillUniform(long stream, long offset, float[] out) {
        fillUniform(stream, offset, out, 0, out.length);
    }

    /**
     * Fills {@code out[from .. from + length)} with uniform values {@code offset .. offset + length
     * - 1} of a stream; chunks filled this way equal the same positions of a one-shot fill.
     *
     * @param stream the stream number
     * @param offset the position of {@code out[from]} in the stream (non-negative)
     * @param out the array to fill
     * @param from the first array position written
     * @param length how many values to write
     */
    public void fillUniform(long stream, long offset, float[] out, int from, int length) {
        checkRange(offset, out, from, length);
        int[] w = new int[4];
        long cached = -1;
        for (int i = 0; i < length; i++) {
            long index = offset + i;
            long b = index >>> 2;
            if (b != cached) {
                block(stream, b, w);
                cached = b;
            }
            out[from + i] = toUniform(w[(int) (index & 3)]);
        }
    }

    /**
     * Fills {@code out} with standard-normal values {@code offset .. offset + out.length - 1} of a
     * stream.
     *
     * @param stream the stream number
     * @param offset the position of {@code out[0]} in the stream (non-negative)
     * @param out the array to fill
     */
    public void fillNormal(long stream, long offset, float[] out) {
        fillNormal(stream, offset, out, 0, out.length);
    }

    /**
     * Fills {@code out[from .. from + length)} with standard-normal values {@code offset .. offset
     * + length - 1} of a stream; chunks filled this way equal the same positions of a one-shot
     * fill, whatever their boundaries (a chunk may start on the second value of a Box-Muller pair).
     *
     * @param stream the stream number
     * @param offset the position of {@code out[from]} in the stream (non-negative)
     * @param out the array to fill
     * @param from the first array position written
     * @param length how many values to write
     */
    public void fillNormal(long stream, long offset, float[] out, int from, int length) {
        checkRange(offset, out, from, length);
        int[] w = new int[4];
        long cachedPair = -1;
        double radius = 0;
        double angle = 0;
        for (int i = 0; i < length; i++) {
            long index = offset + i;
            long pair = index >>> 1;
            if (pair != cachedPair) {
                block(stream, pair >>> 1, w);
                int lane = (int) (pair & 1) * 2;
                double u1 = ((w[lane] & 0xFFFFFFFFL) + 0.5) / TWO_POW_32;
                double u2 = (w[lane + 1] & 0xFFFFFFFFL) / TWO_POW_32;
                radius = StrictMath.sqrt(-2.0 * StrictMath.log(u1));
                angle = 2.0 * StrictMath.PI * u2;
                cachedPair = pair;
            }
            double trig = (index & 1) == 0 ? StrictMath.cos(angle) : StrictMath.sin(angle);
            out[from + i] = (float) (radius * trig);
        }
    }

    /**
     * Creates a float32 array of the given shape holding normal values {@code 0 .. size - 1} of a
     * stream in row-major order, on the manager's device.
     *
     * @param manager the manager that owns the result
     * @param stream the stream number
     * @param shape the shape of the result
     * @return the array
     */
    public NDArray normal(NDManager manager, long stream, Shape shape) {
        float[] values = new float[Math.toIntExact(shape.size())];
        fillNormal(stream, 0, values);
        return manager.create(values, shape);
    }

    /**
     * Creates a float32 array of the given shape holding uniform values {@code 0 .. size - 1} of a
     * stream in row-major order, on the manager's device.
     *
     * @param manager the manager that owns the result
     * @param stream the stream number
     * @param shape the shape of the result
     * @return the array
     */
    public NDArray uniform(NDManager manager, long stream, Shape shape) {
        float[] values = new float[Math.toIntExact(shape.size())];
        fillUniform(stream, 0, values);
        return manager.create(values, shape);
    }

    private static float toUniform(int word) {
        return (word >>> 8) * TWO_POW_MINUS_24;
    }

    private static void checkIndex(long offset, long length) {
        if (offset < 0 || offset + length < offset) {
            throw new IllegalArgumentException(
                    "stream positions must be non-negative and fit in a long, got offset "
                            + offset
                            + " for "
                            + length
                            + " values");
        }
    }

    private static void checkRange(long offset, float[] out, int from, int length) {
        if (from < 0 || length < 0 || from + length > out.length) {
            throw new IndexOutOfBoundsException(
                    "range ["
                            + from
                            + ", "
                            + from
                            + " + "
                            + length
                            + ") does not fit an array of length "
                            + out.length);
        }
        checkIndex(offset, length);
    }
}
