package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Objects;

/**
 * Where one stored tensor lies.
 *
 * @param name the tensor name
 * @param dtype the stored type (BFLOAT16 for BF16 data)
 * @param shape the shape, empty for a scalar
 * @param byteOffset where the data starts, counted from the start of the file (not of the data region)
 * @param byteLength the data size in bytes
 */
public record TensorInfo(
        String name, DataType dtype, Shape shape, long byteOffset, long byteLength) {

    /** Validates the fields. */
    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        if (byteOffset < 0 || byteLength < 0) {
            throw new IllegalArgumentException(
                    "Negative byte range [" + byteOffset + ", +" + byteLength + "] for " + name);
        }
    }

    /** The number of elements (1 for a scalar). */
    public long elementCount() {
        return shape.size();
    }

    /**
     * The type {@link TensorSource#load(String, ai.djl.ndarray.NDManager)} returns: BF16 widened to
     * FLOAT32 (DJL 0.36's PyTorch engine aborts the JVM on bfloat16), every other dtype as stored.
     */
    public DataType defaultLoadType() {
        return Dtypes.defaultLoadType(dtype);
    }
}
