package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.KeySuggestions;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Named tensors held in memory behind the {@link TensorSource} interface: a small model built in
 * code, or a merge result kept for the next step. Arrays are copies owned by this object.
 */
public final class MemoryTensors implements TensorSource {

    private final NDManager manager;
    private final LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();

    /** Creates an empty set whose arrays live in a sub-manager of {@code parent}. */
    public MemoryTensors(NDManager parent) {
        this.manager = parent.newSubManager();
    }

    /** Stores a copy of {@code array} under {@code key} (replacing and closing any previous one). */
    public void put(String key, NDArray array) {
        NDArray copy = copy(array, manager, array.getDataType());
        NDArray old = tensors.put(key, copy);
        if (old != null) {
            old.close();
        }
    }

    /** The stored array itself (owned by this object; do not close it). */
    public NDArray get(String key) {
        NDArray a = tensors.get(key);
        if (a == null) {
            info(key);
        }
        return a;
    }

    @Override
    public List<String> keys() {
        return new ArrayList<>(tensors.keySet());
    }

    @Override
    public boolean contains(String key) {
        return tensors.containsKey(key);
    }

    @Override
    public TensorInfo info(String key) {
        NDArray a = tensors.get(key);
        if (a == null) {
            throw KeySuggestions.unknownKey(key, tensors.keySet(), "memory");
        }
        long bytes = a.getShape().size() * a.getDataType().getNumOfBytes();
        return new TensorInfo(key, a.getDataType(), a.getShape(), 0, bytes);
    }

    @Override
    public NDArray load(String key, NDManager target, DataType type) {
        return copy(get(key), target, type);
    }

    /**
     * An independent copy on {@code target}'s device and manager. DJL's {@code toDevice(d, true)}
     * and {@code toType(t, true)} return an alias when nothing changes (PyTorch's {@code to}), so
     * the copy is made with {@code duplicate()}.
     */
    static NDArray copy(NDArray a, NDManager target, DataType type) {
        NDArray out = a.duplicate();
        if (!out.getDevice().equals(target.getDevice())) {
            NDArray moved = out.toDevice(target.getDevice(), false);
            out.close();
            out = moved;
        }
        if (out.getDataType() != type) {
            NDArray converted = out.toType(type, false);
            out.close();
            out = converted;
        }
        out.attach(target);
        return out;
    }

    /** Closes every array. */
    @Override
    public void close() {
        manager.close();
        tensors.clear();
    }
}
