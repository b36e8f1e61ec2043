/**
 * Tensor file I/O: every read or write of weights goes through here (adapter checkpoints, Hugging
 * Face model folders, streaming merges whose memory must not grow with the number of models).
 *
 * <ul>
 *   <li>{@link dev.peft4j.core.io.TensorSource} is the read API: {@code keys()}, {@code info(key)},
 *       {@code load(key, manager[, type])}, one tensor at a time. {@link
 *       dev.peft4j.core.io.SafetensorsReader} reads one file, {@link
 *       dev.peft4j.core.io.CheckpointReader} a single-file or sharded checkpoint folder.
 *   <li>{@link dev.peft4j.core.io.SafetensorsWriter} streams one file with a layout declared up
 *       front; {@link dev.peft4j.core.io.ShardedCheckpointWriter} streams a sharded folder with no
 *       layout known in advance.
 *   <li>{@link dev.peft4j.core.io.AtomicFiles} publishes files and folders atomically (a crash can
 *       leave {@code <name>.tmp-<hex>} or {@code <name>.old-<hex>} siblings, never a partial file
 *       under the final name); {@link dev.peft4j.core.io.JsonIO} writes sorted, indented JSON.
 * </ul>
 *
 * <p>Facts about DJL 0.36 with PyTorch 2.7.1 this package is built around (checked, not assumed):
 *
 * <ul>
 *   <li>Any BFLOAT16 NDArray (create from a buffer, {@code zeros}, {@code toType(BFLOAT16)})
 *       aborts the JVM with "terminate called without an active exception": no exception, the
 *       process dies. So BF16 is widened to float32 in Java on load and narrowed in Java on write
 *       (round to nearest even, NaN to 0x7FC0, as PyTorch does), and asking to load as BFLOAT16 is
 *       an {@link java.lang.IllegalArgumentException}. FLOAT16 works and is used as is.
 *   <li>{@code NDManager.create(Buffer, Shape, DataType)} does not copy a direct ByteBuffer (a mapped
 *       file is one): it wraps the memory with {@code torch::from_blob} and keeps the buffer
 *       referenced. Loading therefore duplicates the array (or converts it, which copies) and closes
 *       the aliasing one before unmapping, so no returned array points into a read-only mapping
 *       (an in-place op on one would crash the JVM) or keeps the mapping alive.
 *   <li>{@code create} takes at most {@code Integer.MAX_VALUE} elements, a Java buffer and one
 *       {@code FileChannel.map} at most 2 GiB: tensors are moved in row chunks along axis 0 and every
 *       offset is a {@code long}.
 *   <li>Engine buffers are raw native memory; safetensors is little-endian. Big-endian platforms
 *       are refused.
 * </ul>
 */
package dev.peft4j.core.io;
