package dev.peft4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A view of a tensor source whose names carry a prefix ({@code encoder.layer.0...} seen as
 * {@code bert.encoder.layer.0...}), for checkpoints that differ by Hugging Face's
 * {@code base_model_prefix}. Closing the view closes the source.
 */
public final class PrefixedSource implements TensorSource {

    private final TensorSource source;
    private final String prefix;

    /** Views {@code source} with {@code prefix} in front of every name. */
    public PrefixedSource(TensorSource source, String prefix) {
        this.source = source;
        this.prefix = prefix;
    }

    private String inner(String key) {
        if (!key.startsWith(prefix)) {
            throw new IllegalArgumentException(
                    "No tensor '" + key + "': every name here starts with '" + prefix + "'");
        }
        return key.substring(prefix.length());
    }

    @Override
    public List<String> keys() {
        return source.keys().stream().map(k -> prefix + k).collect(Collectors.toList());
    }

    @Override
    public boolean contains(String key) {
        return key.startsWith(prefix) && source.contains(inner(key));
    }

    @Override
    public TensorInfo info(String key) {
        TensorInfo i = source.info(inner(key));
        return new TensorInfo(key, i.dtype(), i.shape(), i.byteOffset(), i.byteLength());
    }

    @Override
    public NDArray load(String key, NDManager manager, DataType target) throws IOException {
        return source.load(inner(key), manager, target);
    }

    @Override
    public void close() throws IOException {
        source.close();
    }

    @Override
    public String toString() {
        return prefix + "* of " + source;
    }
}
