package dev.peft4j.merge.fw;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.peft4j.core.Scalars;
import dev.peft4j.core.tree.ModuleTree;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Predicate;

/**
 * A {@link ProxyObjective} over a DJL block and a proxy set given as batches: the mean over the
 * batches of a per-batch loss of the block's predictions. Gradients come from DJL's
 * {@link GradientCollector} directly (no Trainer, no optimizer): the selected parameters are made
 * to require gradients, their gradients are zeroed, every batch is run forward and backward (the
 * loss divided by the number of batches, so the accumulated gradient is the gradient of the mean),
 * and the gradients are read from the parameters. Forward passes run in inference mode (no
 * dropout), so the objective is deterministic.
 *
 * <p>Parameters are named {@code prefix + module path + "." + parameter name}, the naming of
 * Hugging Face checkpoints for blocks whose module names follow them.
 */
public abstract class BlockObjective implements ProxyObjective {

    private final Block block;
    private final List<NDList> batches;
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();

    /**
     * Creates an objective.
     *
     * @param block the model (initialized)
     * @param keyPrefix prepended to the block's parameter names to match the checkpoint ({@code ""} or {@code "bert."})
     * @param selected which checkpoint names the merge may set (others, such as a task head, stay as they are)
     * @param batches the proxy inputs, one {@link NDList} per batch
     */
    protected BlockObjective(
            Block block, String keyPrefix, Predicate<String> selected, List<NDList> batches) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("The proxy set is empty: give at least one batch");
        }
        this.block = block;
        this.batches = List.copyOf(batches);
        ModuleTree.modules(block)
                .forEach(
                        (path, module) ->
                                module.getDirectParameters()
                                        .forEach(
                                                p -> {
                                                    String key =
                                                            keyPrefix
                                                                    + ModuleTree.join(
                                                                            path, p.getKey());
                                                    if (selected.test(key)
                                                            && p.getValue()
                                                                    .getArray()
                                                                    .getDataType()
                                                                    .isFloating()) {
                                                        parameters.put(key, p.getValue());
                                                    }
                                                }));
        if (parameters.isEmpty()) {
            throw new IllegalArgumentException(
                    "The objective's block has no selected floating-point parameters");
        }
    }

    /** The loss of one batch (a scalar), given the block's predictions for it. */
    protected abstract NDArray batchLoss(NDList predictions, int batch);

    /** The number of batches. */
    public int batchCount() {
        return batches.size();
    }

    @Override
    public Set<String> keys() {
        return parameters.keySet();
    }

    @Override
    public NDArray weight(String key) {
        return parameter(key).getArray();
    }

    @Override
    public void setWeight(String key, NDArray value) {
        NDArray target = parameter(key).getArray();
        if (!target.getShape().equals(value.getShape())) {
            throw new IllegalArgumentException(
                    "Tensor '"
                            + key
                            + "' of the objective's block has shape "
                            + target.getShape()
                            + ", the merge gives "
                            + value.getShape());
        }
        target.set(
                new NDIndex("..."),
                value.toDevice(target.getDevice(), false).toType(target.getDataType(), false));
    }

    private Parameter parameter(String key) {
        Parameter p = parameters.get(key);
        if (p == null) {
            throw new IllegalArgumentException("The objective's block has no tensor '" + key + "'");
        }
        return p;
    }

    @Override
    public double loss() {
        double total = 0;
        for (int i = 0; i < batches.size(); i++) {
            try (NDManager scope = batches.get(i).head().getManager().newSubManager()) {
                NDList predictions =
                        block.forward(
                                new ParameterStore(scope, false),
                                copyInto(batches.get(i), scope),
                                false);
                NDArray l = batchLoss(predictions, i);
                total += l.toType(DataType.FLOAT64, false).getDouble();
                predictions.attach(scope);
                l.attach(scope);
            }
        }
        return total / batches.size();
    }

    /**
     * The batch's arrays copied into {@code scope}: the engine attaches an operation's result to
     * the manager of its input, so a forward pass on the long-lived proxy batches would leave every
     * activation on their manager until the merge ends (tens of GB over an FW run on MiniLM).
     */
    protected static NDList copyInto(NDList batch, NDManager scope) {
        NDList copy = new NDList(batch.size());
        for (NDArray a : batch) {
            NDArray c = a.duplicate();
            c.attach(scope);
            c.setName(a.getName());
            copy.add(c);
        }
        return copy;
    }

    @Override
    public double lossAndGradient(BiConsumer<String, NDArray> gradients) {
        parameters.values().forEach(p -> p.getArray().setRequiresGradient(true));
        double total = 0;
        try (NDManager scope = batches.get(0).head().getManager().newSubManager()) {
            for (Parameter p : parameters.values()) {
                NDArray g = p.getArray().getGradient();
                g.attach(
                        scope); // a second handle on the parameter's gradient: closing it frees the
                // handle only
                g.subi(g); // PyTorch accumulates gradients over backward passes
            }
            for (int i = 0; i < batches.size(); i++) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                        NDManager batchScope = scope.newSubManager()) {
                    NDList predictions =
                            block.forward(
                                    new ParameterStore(batchScope, false),
                                    copyInto(batches.get(i), batchScope),
                                    false);
                    NDArray l = batchLoss(predictions, i);
                    predictions.attach(batchScope);
                    l.attach(batchScope);
                    total += l.toType(DataType.FLOAT64, false).getDouble();
                    gc.backward(Scalars.div(l, batches.size()));
                }
            }
            for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
                NDArray g = e.getValue().getArray().getGradient();
                g.attach(
                        scope); // a second handle on the parameter's gradient: closing it frees the
                // handle only
                gradients.accept(e.getKey(), g);
            }
        }
        return total / batches.size();
    }
}
