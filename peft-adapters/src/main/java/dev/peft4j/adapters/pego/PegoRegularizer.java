package dev.peft4j.adapters.pego;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.loss.Loss;
import dev.peft4j.adapters.Temporaries;
import dev.peft4j.core.AdaptedLayer;
import dev.peft4j.core.AdapterSlots;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.Scalars;
import dev.peft4j.core.config.AdapterConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * PEGO's orthogonal regularizer over every layer of one adapter:
 * {@code lambda (L_preserve + L_diversify)} with {@code L_preserve = sum_i sum(|W dW_i^T|)} and
 * {@code L_diversify = sum_{i<j} sum(|dW_i dW_j^T|)}, {@code dW_i = B_i A_i}, summed over layers.
 *
 * <p>It is a DJL {@link Loss} that ignores labels and predictions (but for the manager its scalar
 * is attached to), so it composes with the task loss as DJL's losses do:
 * {@code new SimpleCompositeLoss().addLoss(task).addLoss(PegoRegularizer.of(peftModel, "default"))},
 * which is what {@link PeftModel#trainingLoss} builds. It is computed from the parameters' own
 * arrays, which are the ones DJL's trainer records gradients for when it trains on the device the
 * model lives on.
 */
public final class PegoRegularizer extends Loss {

    private final String adapterName;
    private final double lambda;
    private final List<AdapterSlots> layers;

    private PegoRegularizer(String adapterName, double lambda, List<AdapterSlots> layers) {
        super("PegoRegularizer");
        this.adapterName = adapterName;
        this.lambda = lambda;
        this.layers = layers;
    }

    /** The regularizer of a PEGO adapter of a model; an error when the adapter is of another method. */
    public static PegoRegularizer of(PeftModel model, String adapterName) {
        AdapterConfig config = model.config(adapterName);
        if (!(config instanceof PegoConfig)) {
            throw new IllegalArgumentException(
                    "Adapter '"
                            + adapterName
                            + "' is a "
                            + config.peftType()
                            + " adapter; the PEGO regularizer needs a "
                            + PegoConfig.PEFT_TYPE
                            + " adapter");
        }
        List<AdapterSlots> layers = new ArrayList<>();
        for (AdaptedLayer layer : model.adaptedLayers().values()) {
            if (layer.slots().adapters().containsKey(adapterName)) {
                layers.add(layer.slots());
            }
        }
        return new PegoRegularizer(adapterName, ((PegoConfig) config).regLambda(), layers);
    }

    /** The weight lambda from the adapter's config. */
    public double lambda() {
        return lambda;
    }

    /** {@code lambda (L_preserve + L_diversify)}: a scalar owned by {@code manager}, in the autograd graph. */
    public NDArray loss(NDManager manager) {
        return Temporaries.compute(
                manager,
                () ->
                        Scalars.mul(
                                sum(a -> a.preserveTerm().add(a.diversifyTerm())), (float) lambda));
    }

    /** {@code L_preserve} summed over layers (without lambda), a scalar owned by {@code manager}. */
    public NDArray preserve(NDManager manager) {
        return Temporaries.compute(manager, () -> sum(PegoAdapter::preserveTerm));
    }

    /** {@code L_diversify} summed over layers (without lambda), a scalar owned by {@code manager}. */
    public NDArray diversify(NDManager manager) {
        return Temporaries.compute(manager, () -> sum(PegoAdapter::diversifyTerm));
    }

    /**
     * {@code lambda (L_preserve + L_diversify)} as a loss term: owned by the predictions' manager,
     * so it is freed with the batch.
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        return loss(predictions.head().getManager());
    }

    /** A per-layer term summed over layers; runs inside {@link Temporaries#compute}. */
    private NDArray sum(Function<PegoAdapter, NDArray> term) {
        NDArray total = null;
        for (AdapterSlots slots : layers) {
            if (slots.merged().contains(adapterName)) {
                throw new IllegalStateException(
                        "Adapter '"
                                + adapterName
                                + "' is merged into '"
                                + slots.path()
                                + "': unmerge it before computing the PEGO regularizer, which needs"
                                + " the base weight W");
            }
            NDArray t = term.apply((PegoAdapter) slots.adapters().get(adapterName));
            total = total == null ? t : total.add(t);
        }
        return total;
    }
}
