package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The same tensors listed in reverse order (for the tensor-order invariant); closing does not close the source. */
final class ReorderedSource implements TensorSource {

    private final TensorSource source;

    ReorderedSource(TensorSource source) {
        this.source = source;
    }

    @Override
    public List<String> keys() {
        List<String> keys = new ArrayList<>(source.keys());
        Collections.reverse(keys);
        return keys;
    }

    @Override
    public boolean contains(String key) {
        return source.contains(key);
    }

    @Override
    public TensorInfo info(String key) {
        return source.info(key);
    }

    @Override
    public NDArray load(String key, NDManager manager, DataType target) throws IOException {
        return source.load(key, manager, target);
    }

    @Override
    public void close() {}
}
