package dev.peft4j.core.tree;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;

/**
 * The layer an adapter is attached to: its weight, bias and the operation it applies.
 *
 * <p>Weights use PyTorch's layouts: {@code Linear} {@code [out, in]}, {@code Conv2d}
 * {@code [out, in / groups, kh, kw]}. Adapters that compute a weight-shaped delta (Bat, FLoRA)
 * apply it with {@link #apply}, which reuses the base layer's stride, padding, dilation and groups.
 */
public abstract class BaseLayer {

    /** The kinds of layers adapters can wrap. */
    public enum Kind {
        /** {@code ai.djl.nn.core.Linear}. */
        LINEAR,
        /** {@code ai.djl.nn.convolutional.Conv2d}. */
        CONV2D,
        /** A lookup table ({@link EmbeddingTable}, HF's {@code nn.Embedding}). */
        EMBEDDING
    }

    private final Block block;

    BaseLayer(Block block) {
        this.block = block;
    }

    /** Describes a supported layer; a clear error for blocks adapters cannot wrap. */
    public static BaseLayer of(Block block, String path) {
        if (block instanceof Conv2d) {
            return new ConvLayer((Conv2d) block, path);
        }
        if (block instanceof Linear) {
            return new LinearLayer((Linear) block, path);
        }
        if (block instanceof EmbeddingTable) {
            return new EmbeddingLayer(block, path);
        }
        throw new IllegalArgumentException(
                "Module '"
                        + path
                        + "' is a "
                        + block.getClass().getSimpleName()
                        + "; adapters can wrap Linear, Conv2d and embedding layers only");
    }

    /** The wrapped DJL block. */
    public Block block() {
        return block;
    }

    /** Which kind of layer this is. */
    public abstract Kind kind();

    /** The weight parameter. */
    public Parameter weight() {
        return block.getDirectParameters().get("weight");
    }

    /** The bias parameter, or null when the layer has none. */
    public Parameter bias() {
        return block.getDirectParameters().contains("bias")
                ? block.getDirectParameters().get("bias")
                : null;
    }

    /** The weight's shape: {@code [out, in]} or {@code [out, in / groups, kh, kw]}. */
    public Shape weightShape() {
        return weight().getArray().getShape();
    }

    /** Output features (rows of the weight). */
    public long outFeatures() {
        return weightShape().get(0);
    }

    /** Input features seen by one weight row: {@code in} for Linear, {@code in / groups * kh * kw} for Conv2d. */
    public long inFeatures() {
        return weightShape().size() / outFeatures();
    }

    /**
     * The weight as the engine sees it for this forward pass (tracks gradients when trainable), as a
     * view owned by {@code like}'s manager ({@link #passView}).
     */
    public NDArray weightValue(ParameterStore ps, NDArray like, boolean training) {
        return passView(ps.getValue(weight(), like.getDevice(), training), like);
    }

    /**
     * A view of {@code value} owned by {@code like}'s manager, so that operations that start from it
     * attach their results there (DJL attaches a result to its first operand's manager) and not to
     * the model's manager.
     */
    public static NDArray passView(NDArray value, NDArray like) {
        return passView(value, like.getManager());
    }

    /** {@link #passView(NDArray, NDArray)} owned by {@code owner}. */
    public static NDArray passView(NDArray value, NDManager owner) {
        NDArray view = value.reshape(value.getShape());
        view.attach(owner);
        return view;
    }

    /** Applies the layer's operation to {@code x} with {@code weight} in place of its own, without bias. */
    public abstract NDArray apply(NDArray x, NDArray weight);

    /** A Linear layer. */
    static final class LinearLayer extends BaseLayer {
        LinearLayer(Linear block, String path) {
            super(block);
            requireInitialized(block, path);
        }

        @Override
        public Kind kind() {
            return Kind.LINEAR;
        }

        @Override
        public NDArray apply(NDArray x, NDArray weight) {
            return Linear.linear(x, weight).singletonOrThrow();
        }
    }

    /** A 2-D convolution: its stride, padding, dilation and groups for adapters with their own kernels. */
    public static final class ConvLayer extends BaseLayer {
        private final Conv2d conv;

        ConvLayer(Conv2d block, String path) {
            super(block);
            this.conv = block;
            requireInitialized(block, path);
        }

        @Override
        public Kind kind() {
            return Kind.CONV2D;
        }

        /** The base convolution, for its stride, padding, dilation and groups. */
        public Conv2d conv() {
            return conv;
        }

        @Override
        public NDArray apply(NDArray x, NDArray weight) {
            return Conv2d.conv2d(
                            x,
                            weight,
                            null,
                            conv.getStride(),
                            conv.getPadding(),
                            conv.getDilation(),
                            conv.getGroups())
                    .singletonOrThrow();
        }
    }

    /**
     * A lookup table {@code weight [num_embeddings, dim]}: its "input features" are the rows
     * (PEFT's {@code in_features = num_embeddings}) and its outputs the columns.
     */
    static final class EmbeddingLayer extends BaseLayer {
        EmbeddingLayer(Block block, String path) {
            super(block);
            requireInitialized(block, path);
        }

        @Override
        public Kind kind() {
            return Kind.EMBEDDING;
        }

        /** The vector size {@code dim}. */
        @Override
        public long outFeatures() {
            return weightShape().get(1);
        }

        /** The number of rows {@code num_embeddings}. */
        @Override
        public long inFeatures() {
            return weightShape().get(0);
        }

        /** {@code weight[ids]}: the rows of {@code weight [num, d]} for integer ids. */
        @Override
        public NDArray apply(NDArray ids, NDArray weight) {
            NDArray index =
                    ids.getDataType() == ai.djl.ndarray.types.DataType.INT64
                            ? ids
                            : ids.toType(ai.djl.ndarray.types.DataType.INT64, false);
            return ai.djl.nn.core.Embedding.embedding(
                            index, weight, ai.djl.ndarray.types.SparseFormat.DENSE)
                    .singletonOrThrow();
        }
    }

    private static void requireInitialized(Block block, String path) {
        Parameter w = block.getDirectParameters().get("weight");
        if (w == null || w.getArray() == null) {
            throw new IllegalStateException(
                    "Module '"
                            + path
                            + "' is not initialized: initialize or load the model before"
                            + " injecting adapters");
        }
    }
}
