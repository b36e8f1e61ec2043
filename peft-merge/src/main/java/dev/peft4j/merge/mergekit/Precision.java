package dev.peft4j.merge.mergekit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Rounding float32 values to a lower precision, keeping float32 storage. */
final class Precision {

    private Precision() {}

    /**
     * {@code x} rounded to {@code dtype} (round to nearest even), as float32; unchanged for null or
     * float32. bfloat16 is rounded on the bits (DJL 0.36 cannot hold bfloat16 arrays on CPU).
     */
    static NDArray round(NDArray x, DataType dtype) {
        if (dtype == null || dtype == DataType.FLOAT32) {
            return x;
        }
        if (dtype == DataType.FLOAT16) {
            return x.toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
        }
        float[] v = x.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = bf16(v[i]);
        }
        return x.getManager().create(v, x.getShape());
    }

    /** A float rounded to bfloat16 (nearest even; NaN stays NaN). */
    static float bf16(float f) {
        if (Float.isNaN(f)) {
            return f;
        }
        int bits = Float.floatToRawIntBits(f);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(rounded & 0xFFFF0000);
    }
}
