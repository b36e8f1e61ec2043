package dev.peft4j.init.loraga;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The mean full-weight gradient of a task loss over the first batches for chosen frozen weights, through
 * DJL's {@link GradientCollector}: the weights require gradients only while it runs (their
 * freeze is restored afterwards) and every gradient it accumulated, adapter parameters' included,
 * is zeroed again so the first training step starts clean. DJL allows one open collector per JVM,
 * so this must not run inside another one.
 */
final class GradientEstimator {

    private GradientEstimator() {}

    /**
     * {@code G = mean over batches of dLoss/dW} for each weight, float32, attached to {@code out}.
     *
     * @param model the model (forward in training mode, as the paper and PEFT do)
     * @param weights the weights by module path
     * @param data batches; the first ones holding {@code examples} examples are used (fewer if the data ends)
     * @param loss the task loss of predictions against labels
     * @param examples how many examples the batches used must hold
     * @param out owns the results
     */
    static Map<String, NDArray> meanGradients(
            Block model,
            Map<String, Parameter> weights,
            Iterable<Batch> data,
            Loss loss,
            int examples,
            NDManager out) {
        List<Boolean> frozen = new ArrayList<>();
        for (Parameter w : weights.values()) {
            frozen.add(!w.requiresGradient());
            w.freeze(false);
            zeroGradient(w);
        }
        try {
            int seen = accumulate(model, data, loss, examples, out);
            Map<String, NDArray> means = new LinkedHashMap<>();
            for (Map.Entry<String, Parameter> e : weights.entrySet()) {
                try (NDArray grad = e.getValue().getArray().getGradient();
                        NDArray g32 = grad.toType(DataType.FLOAT32, true)) {
                    NDArray g = g32.div(seen);
                    g.attach(out);
                    means.put(e.getKey(), g);
                }
            }
            return means;
        } finally {
            int i = 0;
            for (Parameter w : weights.values()) {
                zeroGradient(w);
                w.freeze(frozen.get(i++));
            }
            for (Parameter p : model.getParameters().values()) {
                zeroGradient(p);
            }
        }
    }

    /** Runs forward and backward on batches until {@code examples} examples; returns how many batches. */
    private static int accumulate(
            Block model, Iterable<Batch> data, Loss loss, int examples, NDManager manager) {
        int seen = 0;
        long given = 0;
        ParameterStore ps = new ParameterStore(manager, false);
        try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
            for (Batch batch : data) {
                try (batch) {
                    NDList predictions = model.forward(ps, batch.getData(), true);
                    gc.backward(loss.evaluate(batch.getLabels(), predictions));
                    given += batch.getSize();
                }
                seen++;
                if (given >= examples) {
                    break;
                }
            }
        }
        if (seen == 0) {
            throw new IllegalArgumentException(
                    "LoRA-GA needs at least one batch of training data, got none");
        }
        return seen;
    }

    /** Sets a parameter's accumulated gradient to zero, if it has one. */
    private static void zeroGradient(Parameter p) {
        NDArray array = p.getArray();
        if (array == null || !array.hasGradient()) {
            return;
        }
        try (NDArray grad = array.getGradient()) {
            grad.subi(grad);
        }
    }
}
