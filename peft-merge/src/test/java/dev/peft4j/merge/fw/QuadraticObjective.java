package dev.peft4j.merge.fw;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.MemoryTensors;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Predicate;

/** {@code f(theta) = 1/2 sum_p ||theta_p - target_p||^2} over selected tensors: a convex objective without a model. */
final class QuadraticObjective implements ProxyObjective {

    private final MemoryTensors weights;
    private final MemoryTensors target;
    private final Set<String> keys = new LinkedHashSet<>();

    QuadraticObjective(NDManager manager, TensorSource targetModel, Predicate<String> selected)
            throws IOException {
        weights = new MemoryTensors(manager);
        target = new MemoryTensors(manager);
        try (NDManager scope = manager.newSubManager()) {
            for (String key : targetModel.keys()) {
                NDArray t = targetModel.load(key, scope);
                if (selected.test(key) && t.getDataType().isFloating()) {
                    keys.add(key);
                    target.put(key, t);
                    weights.put(key, t.zerosLike());
                }
            }
        }
    }

    @Override
    public Set<String> keys() {
        return keys;
    }

    @Override
    public NDArray weight(String key) {
        return weights.get(key);
    }

    @Override
    public void setWeight(String key, NDArray value) {
        weights.put(key, value);
    }

    @Override
    public double loss() {
        return lossAndGradient((k, g) -> {});
    }

    @Override
    public double lossAndGradient(BiConsumer<String, NDArray> gradients) {
        double loss = 0;
        for (String key : keys) {
            try (NDManager scope = weights.get(key).getManager().newSubManager()) {
                NDArray g = weights.get(key).sub(target.get(key));
                g.attach(scope);
                loss += 0.5 * g.square().sum().getFloat();
                gradients.accept(key, g);
            }
        }
        return loss;
    }
}
