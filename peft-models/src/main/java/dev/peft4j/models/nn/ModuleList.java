package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Supplier;

/**
 * HF {@code nn.ModuleList}: children named {@code "0"}, {@code "1"}, ... (so layer {@code i} of
 * {@code encoder.layer} has the path {@code encoder.layer.i}).
 *
 * <p>As a block it runs its modules in order: module {@code i} gets the running hidden state
 * followed by the list's remaining inputs (masks, positions) unchanged, and returns the new hidden
 * state.
 */
public final class ModuleList extends HfModule {

    // the same instances as in children; an adapter injector replaces an element in both
    private final List<Block> modules = new ArrayList<>();

    /**
     * Creates a list of modules that all take inputs of the same shape.
     *
     * @param modules the modules, in order
     * @param inputShape the shape of a module's first input, used to initialize it
     */
    public ModuleList(List<? extends Block> modules, Shape inputShape) {
        for (Block module : modules) {
            this.modules.add(register(Integer.toString(this.modules.size()), module, inputShape));
        }
    }

    /**
     * Builds {@code count} fresh modules, the layers of a stack.
     *
     * @param count how many
     * @param factory creates one module
     * @return the modules
     */
    public static List<Block> repeat(int count, Supplier<? extends Block> factory) {
        List<Block> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(factory.get());
        }
        return out;
    }

    /**
     * Returns the modules in order (a read-only view that follows injected replacements).
     *
     * @return the modules
     */
    public List<Block> modules() {
        return Collections.unmodifiableList(modules);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray hidden = inputs.head();
        for (Block module : modules) {
            NDList moduleInputs = new NDList(inputs.size());
            moduleInputs.add(hidden);
            moduleInputs.addAll(inputs.subList(1, inputs.size()));
            hidden = module.forward(parameterStore, moduleInputs, training, params).head();
        }
        return new NDList(hidden);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
