package dev.peft4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.BlockList;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.core.tree.BaseLayer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The adapters of one layer by name, which are active, which are merged into the base weight,
 * and the forward pass {@code y = base(x) + sum over active unmerged adapters of delta(x)}.
 */
public final class AdapterSlots {

    private static final Logger LOG = LoggerFactory.getLogger(AdapterSlots.class);

    private final BaseLayer base;
    private final String path;
    private final BlockList children;
    private final Map<String, Adapter> adapters = new LinkedHashMap<>();
    private final List<String> active = new ArrayList<>();
    private final List<String> merged = new ArrayList<>();
    private boolean disabled;

    /** Creates the slots of a layer; {@code children} is the owning block's child list. */
    AdapterSlots(BaseLayer base, String path, BlockList children) {
        this.base = base;
        this.path = path;
        this.children = children;
        children.add("base_layer", base.block());
    }

    /** The wrapped layer. */
    public BaseLayer base() {
        return base;
    }

    /** The module path of the wrapped layer. */
    public String path() {
        return path;
    }

    /** Adapters by name, in insertion order (read-only). */
    public Map<String, Adapter> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    /** Adds an adapter under a new name; it is not active until activated. */
    public void add(String name, Adapter adapter) {
        if (adapters.containsKey(name)) {
            throw new IllegalArgumentException(
                    "Module '" + path + "' already has an adapter named '" + name + "'");
        }
        adapters.put(name, adapter);
        children.add(name, adapter);
    }

    /** Removes an adapter (unmerging it first) and closes its arrays. */
    public void remove(String name) {
        Adapter adapter = adapters.get(name);
        if (adapter == null) {
            return;
        }
        if (merged.contains(name)) {
            unmerge(name);
        }
        forget(name);
    }

    /** Drops an adapter from this layer and closes its arrays, leaving the base weight as it is. */
    void forget(String name) {
        Adapter adapter = adapters.remove(name);
        active.remove(name);
        merged.remove(name);
        children.remove(name);
        if (adapter != null) {
            adapter.release();
        }
    }

    /** Sets which adapters contribute to the forward pass, in order; names absent here are skipped. */
    public void setActive(List<String> names) {
        active.clear();
        for (String n : names) {
            if (adapters.containsKey(n)) {
                active.add(n);
            }
        }
    }

    /** The active adapter names. */
    public List<String> active() {
        return Collections.unmodifiableList(active);
    }

    /** The merged adapter names, in merge order. */
    public List<String> merged() {
        return Collections.unmodifiableList(merged);
    }

    /** Turns every adapter's contribution off (true) or back on; merged weights must be unmerged first. */
    public void setDisabled(boolean disabled) {
        if (disabled && !merged.isEmpty()) {
            LOG.warn("Unmerging adapters {} of '{}' to disable them", merged, path);
            unmergeAll();
        }
        this.disabled = disabled;
    }

    /** Whether adapters are disabled on this layer. */
    public boolean disabled() {
        return disabled;
    }

    /** Adds an adapter's weight change to the base weight; a no-op with a warning if already merged. */
    public void merge(String name) {
        Adapter adapter = require(name);
        if (merged.contains(name)) {
            LOG.warn("Adapter '{}' of '{}' is already merged", name, path);
            return;
        }
        adapter.mergeInto(base);
        merged.add(name);
    }

    /** Removes a merged adapter's change from the base weight; adapters merged after it are unmerged first. */
    public void unmerge(String name) {
        require(name);
        int at = merged.indexOf(name);
        if (at < 0) {
            return;
        }
        List<String> later = new ArrayList<>(merged.subList(at + 1, merged.size()));
        for (int i = merged.size() - 1; i >= at; i--) {
            adapters.get(merged.get(i)).unmergeFrom(base);
        }
        merged.subList(at, merged.size()).clear();
        later.forEach(this::merge);
    }

    /** Unmerges every merged adapter, last merged first. */
    public void unmergeAll() {
        for (int i = merged.size() - 1; i >= 0; i--) {
            adapters.get(merged.get(i)).unmergeFrom(base);
        }
        merged.clear();
    }

    private Adapter require(String name) {
        Adapter a = adapters.get(name);
        if (a == null) {
            throw new IllegalArgumentException(
                    "Module '"
                            + path
                            + "' has no adapter '"
                            + name
                            + "'; it has "
                            + adapters.keySet());
        }
        return a;
    }

    /** The forward pass of the adapted layer. */
    NDList forward(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDList out = base.block().forward(ps, inputs, training, params);
        if (disabled || active.isEmpty()) {
            return out;
        }
        NDArray x = inputs.singletonOrThrow();
        NDArray y = out.singletonOrThrow();
        for (String name : active) {
            if (!merged.contains(name)) {
                y = adapters.get(name).addTo(y, ps, x, training);
            }
        }
        return new NDList(y);
    }

    /** Initializes the base layer and the adapters for DJL's block initialization. */
    void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
        base.block().initialize(manager, dataType, inputShapes);
        for (Adapter a : adapters.values()) {
            a.initialize(manager, dataType, inputShapes);
        }
    }
}
