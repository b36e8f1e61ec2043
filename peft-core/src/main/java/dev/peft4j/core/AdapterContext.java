package dev.peft4j.core;

import ai.djl.ndarray.NDManager;
import dev.peft4j.core.tree.BaseLayer;

/**
 * What a method needs to build its adapter for one layer.
 *
 * @param modulePath the module path of the base layer ({@code encoder.layer.0.attention.self.query})
 * @param adapterName the adapter's name ({@code default})
 * @param base the base layer
 * @param manager the manager that owns the adapter's arrays (the base weight's manager)
 * @param forLoading true when the weights come from a checkpoint next, so initialization that
 *     costs time or changes the base weight (PiSSA, LoRA-GA) must be skipped
 */
public record AdapterContext(
        String modulePath,
        String adapterName,
        BaseLayer base,
        NDManager manager,
        boolean forLoading) {

    /** A seed for this layer derived from a config seed and the module path, stable across runs. */
    public long layerSeed(long seed) {
        long h = seed * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < modulePath.length(); i++) {
            h = (h ^ modulePath.charAt(i)) * 0x100000001B3L;
        }
        return h ^ (h >>> 31);
    }
}
