package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Objects;

/**
 * Where one stored tensor lies: its name, stored dtype, shape, and the byte range of its data,
 * {@code byteOffset} counted from the start of the file that holds it (not from the data region).
 */
public record TensorInfo(String name, DataType dtype, Shape shape, long byteOffset, long byteLength) {

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
