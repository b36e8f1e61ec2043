package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Objects;

/**
 * One tensor of a file layout declared before writing.
 *
 * @param name the tensor name
 * @param dtype the type to store it as (BFLOAT16 and FLOAT16 are narrowed from wider floats)
 * @param shape the shape, empty for a scalar
 */
public record TensorSpec(String name, DataType dtype, Shape shape) {

    /** Validates the fields: a non-empty name, a dtype safetensors can store, known dimensions. */
    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        if (name.isEmpty() || name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException("Invalid tensor name '" + name + "'");
        }
        Dtypes.requireStorable(dtype, name);
        for (long d : shape.getShape()) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "Tensor '" + name + "' has an unknown or negative dimension: " + shape);
            }
        }
    }

    /** The number of data bytes the tensor takes in the file. */
    public long byteLength() {
        return Dtypes.byteLength(shape, dtype, name);
    }
}
