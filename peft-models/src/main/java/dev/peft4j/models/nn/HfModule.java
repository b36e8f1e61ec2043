package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;

/**
 * Base of the Hugging Face compatible blocks: every child is registered under its HF attribute
 * name (so the module path of a child is the HF dotted path) together with the input shape that
 * initializes it.
 *
 * <p>Subclasses keep each child in a field typed {@link Block} and call it only through that
 * field: an adapter is injected by replacing the child in {@code children} and in that field, so
 * the replacement may be any block with the same inputs and outputs.
 */
public abstract class HfModule extends AbstractBlock {

    private static final byte VERSION = 1;

    private final List<Shape> childInputShapes = new ArrayList<>();

    /** Creates a module with no children yet. */
    protected HfModule() {
        super(VERSION);
    }

    /**
     * Registers {@code block} as the child {@code name}.
     *
     * @param name the HF attribute name of the child (e.g. {@code query}, {@code LayerNorm})
     * @param block the child
     * @param inputShape the shape of the child's first input, used only to initialize it
     * @param <B> the child's type
     * @return {@code block}, to assign to the field that holds it
     */
    protected final <B extends Block> B register(String name, B block, Shape inputShape) {
        addChildBlock(name, block);
        childInputShapes.add(inputShape);
        return block;
    }

    /**
     * Registers a plain DJL {@link Linear} (HF {@code nn.Linear}: weight {@code [out, in]}, bias
     * {@code [out]}), the block adapters target.
     *
     * @param name the HF attribute name
     * @param in input features
     * @param out output features
     * @param bias whether the layer has a bias
     * @return the new child
     */
    protected final Block linear(String name, long in, long out, boolean bias) {
        return register(
                name, Linear.builder().setUnits(out).optBias(bias).build(), new Shape(1, in));
    }

    /**
     * Adds a parameter of known shape under its HF name.
     *
     * @param name the HF parameter name ({@code weight}, {@code bias}, {@code cls_token}...)
     * @param type the DJL type, which picks the default initializer
     * @param shape the parameter's shape
     * @return the parameter
     */
    protected final Parameter parameter(String name, Parameter.Type type, Shape shape) {
        return addParameter(
                Parameter.builder().setName(name).setType(type).optShape(shape).build());
    }

    /**
     * Adds a parameter of known shape with an explicit initializer.
     *
     * @param name the HF parameter name
     * @param shape the parameter's shape
     * @param initializer how a fresh (not loaded) parameter is filled
     * @return the parameter
     */
    protected final Parameter parameter(String name, Shape shape, Initializer initializer) {
        return addParameter(
                Parameter.builder()
                        .setName(name)
                        .setType(Parameter.Type.OTHER)
                        .optShape(shape)
                        .optInitializer(initializer)
                        .build());
    }

    /** {@inheritDoc} */
    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        if (children.size() != childInputShapes.size()) {
            throw new IllegalStateException(
                    getClass().getSimpleName()
                            + " has "
                            + children.size()
                            + " children but "
                            + childInputShapes.size()
                            + " were registered through register()");
        }
        for (int i = 0; i < children.size(); i++) {
            children.valueAt(i).initialize(manager, dataType, childInputShapes.get(i));
        }
    }

    /**
     * Runs a child on inputs and returns its first output.
     *
     * @param child the child, read from the field that holds it
     * @param parameterStore the parameter store of this forward pass
     * @param training whether this is a training pass
     * @param params the extra parameters passed down unchanged
     * @param inputs the child's inputs; {@code null}s (absent optional inputs, which come last)
     *     are left out
     * @return the child's first output
     */
    protected static NDArray call(
            Block child,
            ParameterStore parameterStore,
            boolean training,
            PairList<String, Object> params,
            NDArray... inputs) {
        NDList list = new NDList(inputs.length);
        for (NDArray input : inputs) {
            if (input != null) {
                list.add(input);
            }
        }
        return child.forward(parameterStore, list, training, params).head();
    }

    /**
     * Returns the value of one of this block's parameters for a forward pass on {@code like}'s
     * device.
     *
     * @param parameterStore the parameter store of this forward pass
     * @param parameter the parameter
     * @param like an input of the pass, which fixes the device
     * @param training whether this is a training pass
     * @return the parameter's array
     */
    protected static NDArray value(
            ParameterStore parameterStore, Parameter parameter, NDArray like, boolean training) {
        return parameterStore.getValue(parameter, like.getDevice(), training);
    }
}
