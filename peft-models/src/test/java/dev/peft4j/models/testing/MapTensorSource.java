package dev.peft4j.models.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An in-memory float32 checkpoint for tests. */
public final class MapTensorSource implements TensorSource {

    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, Shape> shapes = new LinkedHashMap<>();

    /**
     * Adds (or replaces) a tensor.
     *
     * @param name the key
     * @param shape the shape
     * @param data row-major values
     * @return this source
     */
    public MapTensorSource put(String name, Shape shape, float[] data) {
        if (shape.size() != data.length) {
            throw new IllegalArgumentException(name + ": " + data.length + " values for " + shape);
        }
        values.put(name, data);
        shapes.put(name, shape);
        return this;
    }

    /**
     * Removes a tensor.
     *
     * @param name the key
     * @return this source
     */
    public MapTensorSource remove(String name) {
        values.remove(name);
        shapes.remove(name);
        return this;
    }

    /**
     * Returns a tensor's values.
     *
     * @param name the key
     * @return the row-major values
     */
    public float[] values(String name) {
        float[] v = values.get(name);
        if (v == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return v;
    }

    @Override
    public List<String> keys() {
        return List.copyOf(values.keySet());
    }

    @Override
    public boolean contains(String key) {
        return values.containsKey(key);
    }

    @Override
    public TensorInfo info(String key) {
        float[] v = values(key);
        return new TensorInfo(key, DataType.FLOAT32, shapes.get(key), 0, 4L * v.length);
    }

    @Override
    public NDArray load(String key, NDManager manager, DataType target) {
        return manager.create(values(key), shapes.get(key)).toType(target, false);
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "test tensors";
    }
}
