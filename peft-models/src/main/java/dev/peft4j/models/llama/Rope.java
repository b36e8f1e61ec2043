package dev.peft4j.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * Rotary position embedding as HF LLaMA applies it ({@code rotate_half} convention): the two
 * halves of each head vector are the two coordinates of {@code D/2} rotating pairs.
 */
public final class Rope {

    private Rope() {}

    /**
     * Returns the rotation frequencies {@code theta^(-2i/D)} for {@code i < D/2}.
     *
     * @param headDim the per-head size {@code D}
     * @param theta the RoPE base ({@code rope_theta})
     * @return {@code D/2} frequencies
     */
    public static float[] inverseFrequencies(int headDim, double theta) {
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
        }
        return inv;
    }

    /**
     * Computes the cosines and sines for given positions, in float32 as HF does.
     *
     * @param positions position ids {@code [B, T]}
     * @param inverseFrequencies from {@link #inverseFrequencies(int, double)}
     * @return {@code cos} and {@code sin}, each {@code [B, 1, T, D]} (broadcast over heads)
     */
    public static NDList cosSin(NDArray positions, float[] inverseFrequencies) {
        NDArray inv =
                positions
                        .getManager()
                        .create(inverseFrequencies)
                        .toDevice(positions.getDevice(), false);
        NDArray freqs = positions.toType(DataType.FLOAT32, false).expandDims(-1).mul(inv);
        NDArray angles = NDArrays.concat(new NDList(freqs, freqs), -1).expandDims(1);
        return new NDList(angles.cos(), angles.sin());
    }

    /**
     * Rotates query or key heads: {@code x cos + rotate_half(x) sin}.
     *
     * @param x heads {@code [B, H, T, D]}
     * @param cos from {@link #cosSin}
     * @param sin from {@link #cosSin}
     * @return the rotated heads, in {@code x}'s dtype
     */
    public static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        DataType dtype = x.getDataType();
        return x.mul(cos.toType(dtype, false)).add(rotateHalf(x).mul(sin.toType(dtype, false)));
    }

    /**
     * Returns {@code [-x2, x1]} for {@code x = [x1, x2]} split in halves on the last axis.
     *
     * @param x the heads
     * @return the rotated halves
     */
    static NDArray rotateHalf(NDArray x) {
        long half = x.getShape().get(x.getShape().dimension() - 1) / 2;
        NDArray x1 = x.get(new NDIndex("..., :{}", half));
        NDArray x2 = x.get(new NDIndex("..., {}:", half));
        return NDArrays.concat(new NDList(x2.neg(), x1), -1);
    }
}
