package dev.peft4j.core.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.stream.Collectors;

/** The safetensors dtypes this package reads and writes, and how they map to DJL types. */
final class Dtypes {

    /** Stored dtypes supported, in safetensors' own naming through {@link DataType#asSafetensors()}. */
    static final List<DataType> STORABLE =
            List.of(
                    DataType.FLOAT64,
                    DataType.FLOAT32,
                    DataType.FLOAT16,
                    DataType.BFLOAT16,
                    DataType.INT64,
                    DataType.INT32,
                    DataType.INT8,
                    DataType.UINT8,
                    DataType.BOOLEAN);

    private Dtypes() {}

    /** The DJL type of a safetensors dtype name, or null when unsupported. */
    static DataType parse(String name) {
        for (DataType t : STORABLE) {
            if (t.asSafetensors().equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** The comma-separated safetensors names of the supported dtypes, for error messages. */
    static String supportedNames() {
        return STORABLE.stream().map(DataType::asSafetensors).collect(Collectors.joining(", "));
    }

    /** Throws unless {@code dtype} can be stored in a safetensors file. */
    static void requireStorable(DataType dtype, String tensor) {
        if (!STORABLE.contains(dtype)) {
            throw new IllegalArgumentException(
                    "Tensor '"
                            + tensor
                            + "': dtype "
                            + dtype
                            + " cannot be stored; supported: "
                            + supportedNames());
        }
    }

    /** Throws unless NDArrays of {@code target} can be created; bfloat16 kills DJL 0.36's PyTorch engine. */
    static void requireLoadable(DataType target, String tensor) {
        if (target == DataType.BFLOAT16) {
            throw new IllegalArgumentException(
                    "Tensor '"
                            + tensor
                            + "': cannot load as BFLOAT16, the DJL PyTorch engine aborts the JVM on"
                            + " bfloat16 arrays; load as FLOAT32 instead");
        }
        requireStorable(target, tensor);
    }

    /** BF16 widens to FLOAT32 on load; everything else loads as stored. */
    static DataType defaultLoadType(DataType stored) {
        return stored == DataType.BFLOAT16 ? DataType.FLOAT32 : stored;
    }

    /** The byte size of a tensor, with overflow checked. */
    static long byteLength(Shape shape, DataType dtype, String tensor) {
        try {
            long n = dtype.getNumOfBytes();
            for (long d : shape.getShape()) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(
                    "Tensor '"
                            + tensor
                            + "': shape "
                            + shape
                            + " of "
                            + dtype
                            + " overflows a 64-bit byte count",
                    e);
        }
    }
}
