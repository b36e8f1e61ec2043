package dev.peft4j.adapters.nola;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.NativeArrays;
import dev.peft4j.core.random.CounterRandom;

/**
 * The frozen random arrays of one NOLA layer, a pure function of its layer seed and shapes, so
 * any chunk can be rebuilt bit for bit anywhere. With {@code u} the uniform values of
 * {@link CounterRandom} under the layer seed (float32 in {@code [0, 1)}):
 *
 * <ul>
 *   <li>{@code A0 [r, n]}: stream 0, value {@code e} (row-major), {@code (2u - 1) / sqrt(n)}:
 *       Kaiming-uniform as LoRA's A;
 *   <li>{@code A_i [r, n]}: stream 1, values {@code i r n .. (i + 1) r n - 1}, {@code (2u - 1) / sqrt(k_A)};
 *   <li>{@code B_j [m, r]}: stream 2, values {@code j m r .. (j + 1) m r - 1}, {@code (2u - 1) / sqrt(k_B)}.
 * </ul>
 *
 * Each value is computed in double and rounded once to float32, so it does not depend on the JVM,
 * the CPU or the engine device.
 */
public final class NolaBases {

    /** Stream of {@code A0}. */
    public static final long STREAM_A0 = 0;

    /** Stream of the A bases. */
    public static final long STREAM_A = 1;

    /** Stream of the B bases. */
    public static final long STREAM_B = 2;

    private final CounterRandom random;
    private final int r;
    private final long m;
    private final long n;
    private final int numBasisA;
    private final int numBasisB;

    /** The bases of a layer with weight {@code [m, n]} under a layer seed. */
    public NolaBases(long layerSeed, int r, long m, long n, int numBasisA, int numBasisB) {
        if ((long) r * Math.max(m, n) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(
                    "A NOLA basis of "
                            + r
                            + " x "
                            + Math.max(m, n)
                            + " values does not fit in one Java array");
        }
        this.random = new CounterRandom(layerSeed);
        this.r = r;
        this.m = m;
        this.n = n;
        this.numBasisA = numBasisA;
        this.numBasisB = numBasisB;
    }

    /** The layer seed. */
    public long layerSeed() {
        return random.seed();
    }

    /** {@code A0 [r, n]}. */
    public NDArray a0(NDManager manager) {
        return NativeArrays.create(
                manager, values(STREAM_A0, 0, r * n, 1 / Math.sqrt(n)), new Shape(r, n));
    }

    /** A bases {@code from .. from + count - 1} as rows {@code [count, r n]}. */
    public NDArray basesA(NDManager manager, int from, int count) {
        return rows(manager, STREAM_A, from, count, r * n, numBasisA);
    }

    /** B bases {@code from .. from + count - 1} as rows {@code [count, m r]}. */
    public NDArray basesB(NDManager manager, int from, int count) {
        return rows(manager, STREAM_B, from, count, m * r, numBasisB);
    }

    private NDArray rows(NDManager manager, long stream, int from, int count, long size, int k) {
        if (from < 0 || count < 0 || from + count > k) {
            throw new IndexOutOfBoundsException(
                    "bases " + from + " .. " + (from + count - 1) + " of " + k);
        }
        float[] v =
                values(
                        stream,
                        from * size,
                        Math.multiplyExact(count, Math.toIntExact(size)),
                        1 / Math.sqrt(k));
        return NativeArrays.create(manager, v, new Shape(count, size));
    }

    private float[] values(long stream, long offset, long length, double bound) {
        float[] v = new float[Math.toIntExact(length)];
        random.fillUniform(stream, offset, v);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((2.0 * v[i] - 1.0) * bound);
        }
        return v;
    }
}
