package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;

/**
 * Moves tensor data between files and NDArrays in row chunks along axis 0, so tensors above the
 * 2 GiB limit of one Java buffer or one DJL {@code create} call still load and save, and Java-side
 * staging (bfloat16) stays bounded.
 *
 * <p>Loading maps the tensor's byte range and hands the mapping to {@code NDManager.create}. With
 * the PyTorch engine that call does not copy (it wraps the memory with {@code torch::from_blob}
 * and the NDArray keeps the buffer referenced), so the array is immediately duplicated and the
 * aliasing one closed: the result owns its memory, writing to it cannot touch the read-only
 * mapping, and the mapping is released right away.
 */
final class TensorCodec {

    /** Chunk size for mapped data handed to the engine: below Integer.MAX_VALUE, the limit of one buffer. */
    static final long DEFAULT_CHUNK_BYTES = 1L << 30;

    /** Upper bound for chunks converted in Java (bfloat16), kept well below the default direct-memory limit. */
    static final long MAX_STAGING_BYTES = 64L << 20;

    private TensorCodec() {}

    /** Throws on big-endian platforms: safetensors data is little-endian and engine buffers are raw native memory. */
    private static void requireLittleEndian() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException(
                    "peft4j tensor I/O needs a little-endian platform");
        }
    }

    /** Loads the tensor {@code info} describes from {@code channel} into {@code manager} as {@code target}. */
    static NDArray load(
            FileChannel channel,
            TensorInfo info,
            NDManager manager,
            DataType target,
            long chunkBytes)
            throws IOException {
        requireLittleEndian();
        Dtypes.requireLoadable(target, info.name());
        Shape shape = info.shape();
        if (info.elementCount() == 0) {
            return manager.zeros(shape, target);
        }
        boolean widen = info.dtype() == DataType.BFLOAT16;
        long elementBytes = maxBytes(info.dtype(), target, widen ? DataType.FLOAT32 : info.dtype());
        long limit = widen ? Math.min(chunkBytes, MAX_STAGING_BYTES) : chunkBytes;
        long rowsPerChunk = rowsPerChunk(shape, elementBytes, limit, info.name());
        long rows = rows(shape);
        if (rowsPerChunk >= rows) {
            return loadRows(channel, info, 0, rows, manager, target);
        }
        NDArray out = manager.create(shape, target);
        try {
            for (long start = 0; start < rows; start += rowsPerChunk) {
                long end = Math.min(rows, start + rowsPerChunk);
                try (NDManager scope = manager.newSubManager()) {
                    NDArray part = loadRows(channel, info, start, end - start, scope, target);
                    out.set(new NDIndex("{}:{}", start, end), part);
                }
            }
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * Adds the float32 tensor {@code info} describes into {@code acc} (float32, its shape) straight
     * from the mapped file: one read of the stored bytes, no copy (bfloat16 up to {@link
     * #MAX_STAGING_BYTES} widened once into a staging buffer). Returns false (nothing done) for
     * other dtypes, larger bfloat16 tensors or data larger than one mapping, so the caller loads
     * it instead.
     */
    static boolean addInto(FileChannel channel, TensorInfo info, NDArray acc) throws IOException {
        requireLittleEndian();
        boolean bf16 = info.dtype() == DataType.BFLOAT16;
        boolean fits =
                info.dtype() == DataType.FLOAT32
                        || bf16 && info.elementCount() * 4 <= MAX_STAGING_BYTES;
        if (!fits
                || acc.getDataType() != DataType.FLOAT32
                || !acc.getShape().equals(info.shape())
                || info.byteLength() > Integer.MAX_VALUE
                || info.elementCount() == 0) {
            return false;
        }
        MappedByteBuffer mapped =
                channel.map(FileChannel.MapMode.READ_ONLY, info.byteOffset(), info.byteLength());
        ByteBuffer staged = null;
        try (NDManager scope = acc.getManager().newSubManager()) {
            ByteBuffer data = mapped.order(ByteOrder.LITTLE_ENDIAN);
            if (bf16) {
                // widened once into a staging buffer that the addition reads in place
                staged = BFloat16.widen(data);
                data = staged;
            }
            NDArray alias = scope.create(data, info.shape(), DataType.FLOAT32);
            acc.addi(alias);
        } finally {
            // the scope has closed the aliasing array: nothing reads these buffers any more
            NativeBuffers.release(mapped);
            NativeBuffers.release(staged);
        }
        return true;
    }

    private static NDArray loadRows(
            FileChannel channel,
            TensorInfo info,
            long firstRow,
            long count,
            NDManager manager,
            DataType target)
            throws IOException {
        Shape shape = info.shape();
        long rowBytes = info.byteLength() / rows(shape);
        Shape chunkShape = shape.dimension() == 0 ? shape : Shape.update(shape, 0, count);
        MappedByteBuffer mapped =
                channel.map(
                        FileChannel.MapMode.READ_ONLY,
                        info.byteOffset() + firstRow * rowBytes,
                        count * rowBytes);
        ByteBuffer staged = null;
        try (NDManager scope = manager.newSubManager()) {
            ByteBuffer data = mapped.order(ByteOrder.LITTLE_ENDIAN);
            DataType type = info.dtype();
            if (type == DataType.BFLOAT16) {
                staged = BFloat16.widen(data);
                data = staged;
                type = DataType.FLOAT32;
            }
            NDArray alias = scope.create(data, chunkShape, type);
            NDArray copy = type == target ? alias.duplicate() : alias.toType(target, true);
            copy.attach(manager);
            return copy;
        } finally {
            // the scope has closed the aliasing array: nothing reads these buffers any more
            NativeBuffers.release(mapped);
            NativeBuffers.release(staged);
        }
    }

    /**
     * Writes {@code array} to {@code out} as little-endian {@code stored} data and returns the byte
     * count. Temporaries live in a sub-manager the array is temporarily attached to.
     */
    static long write(
            NDArray array, DataType stored, WritableByteChannel out, long chunkBytes, String name)
            throws IOException {
        requireLittleEndian();
        Dtypes.requireStorable(stored, name);
        boolean narrow = stored == DataType.BFLOAT16;
        if (narrow && !array.getDataType().isFloating()) {
            throw new IllegalArgumentException(
                    "Tensor '"
                            + name
                            + "': cannot store "
                            + array.getDataType()
                            + " as BF16, only floating-point arrays");
        }
        Shape shape = array.getShape();
        if (shape.size() == 0) {
            return 0;
        }
        long elementBytes =
                maxBytes(array.getDataType(), stored, narrow ? DataType.FLOAT32 : stored);
        long rowsPerChunk = rowsPerChunk(shape, elementBytes, chunkBytes, name);
        long rows = rows(shape);
        long written = 0;
        try (NDManager scope = array.getManager().newSubManager()) {
            array.tempAttach(scope);
            for (long start = 0; start < rows; start += rowsPerChunk) {
                long end = Math.min(rows, start + rowsPerChunk);
                try (NDManager chunkScope = scope.newSubManager()) {
                    NDArray part = array;
                    if (rowsPerChunk < rows) {
                        part = array.get(new NDIndex("{}:{}", start, end));
                        part.attach(chunkScope);
                    }
                    written += writeRows(part, stored, out);
                }
            }
        }
        return written;
    }

    private static long writeRows(NDArray part, DataType stored, WritableByteChannel out)
            throws IOException {
        if (stored == DataType.BFLOAT16) {
            NDArray f32 =
                    part.getDataType() == DataType.FLOAT32
                            ? part
                            : part.toType(DataType.FLOAT32, false);
            return BFloat16.narrow(
                    f32.toByteBuffer(true).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer(), out);
        }
        NDArray converted = part.getDataType() == stored ? part : part.toType(stored, false);
        return writeFully(out, converted.toByteBuffer(true));
    }

    /** Writes every remaining byte of {@code data}; returns how many. */
    static long writeFully(WritableByteChannel out, ByteBuffer data) throws IOException {
        long n = data.remaining();
        while (data.hasRemaining()) {
            out.write(data);
        }
        return n;
    }

    /** The size of axis 0, or 1 for a scalar. */
    private static long rows(Shape shape) {
        return shape.dimension() == 0 ? 1 : shape.get(0);
    }

    /**
     * How many rows (slices along axis 0) fit in {@code limitBytes} at {@code elementBytes} per
     * element; at least one, as long as one row fits in a Java buffer.
     */
    static long rowsPerChunk(Shape shape, long elementBytes, long limitBytes, String name) {
        long rowBytes = elementBytes;
        for (int i = 1; i < shape.dimension(); i++) {
            rowBytes = Math.multiplyExact(rowBytes, shape.get(i));
        }
        if (rowBytes > Integer.MAX_VALUE) {
            throw new UnsupportedOperationException(
                    "Tensor '"
                            + name
                            + "' of shape "
                            + shape
                            + ": one slice along axis 0 takes "
                            + rowBytes
                            + " bytes, above the 2 GiB a buffer can hold");
        }
        return Math.max(1, limitBytes / Math.max(1, rowBytes));
    }

    private static long maxBytes(DataType a, DataType b, DataType c) {
        return Math.max(a.getNumOfBytes(), Math.max(b.getNumOfBytes(), c.getNumOfBytes()));
    }
}
