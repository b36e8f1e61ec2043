package dev.peft4j.core;

import ai.djl.nn.Block;
import dev.peft4j.core.tree.BaseLayer;

/**
 * A base layer with adapters attached (PEFT's {@code BaseTunerLayer}).
 *
 * <p>Implementations subclass the DJL layer they wrap ({@link AdaptedLinear} is a {@code Linear}),
 * so a user block that keeps its layers in typed fields accepts them. All state lives in
 * {@link AdapterSlots}.
 */
public interface AdaptedLayer extends Block {

    /** The adapters, activation and merge state of this layer. */
    AdapterSlots slots();

    /** The wrapped layer. */
    default BaseLayer base() {
        return slots().base();
    }

    /** Wraps a Linear, Conv2d or embedding layer; other blocks are an error naming the module. */
    static AdaptedLayer wrap(Block block, String path) {
        BaseLayer base = BaseLayer.of(block, path);
        switch (base.kind()) {
            case LINEAR:
                return new AdaptedLinear(base, path);
            case CONV2D:
                return new AdaptedConv2d(base, path);
            case EMBEDDING:
                return new AdaptedEmbedding(base, path);
            default:
                throw new IllegalArgumentException("Unsupported layer at '" + path + "'");
        }
    }
}
