package dev.peft4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** The one finiteness check of tensors: loads, saves, merges and decompositions refuse NaN and Inf. */
public final class Finiteness {

    private Finiteness() {}

    /**
     * Whether every entry of {@code a} is finite (an integer or boolean array always is). One
     * reduction decides in the common case: a NaN or Inf makes the float64 sum non-finite, and a
     * finite sum proves there is none; only a non-finite sum, which an overflow of huge finite
     * values can also give, pays for the element-wise check. Temporaries are freed at once.
     */
    public static boolean isFinite(NDArray a) {
        if (!a.getDataType().isFloating()) {
            return true;
        }
        try (NDArray sum = a.sum();
                NDArray sum64 = sum.toType(DataType.FLOAT64, true)) {
            if (Double.isFinite(sum64.getDouble())) {
                return true;
            }
        }
        try (NDArray nan = a.isNaN();
                NDArray inf = a.isInfinite();
                NDArray bad = nan.logicalOr(inf);
                NDArray any = bad.any()) {
            return !any.getBoolean();
        }
    }
}
