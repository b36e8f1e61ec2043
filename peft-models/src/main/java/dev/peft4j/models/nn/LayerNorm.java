package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** HF {@code nn.LayerNorm} over the last axis, with parameters {@code weight} and {@code bias}. */
public final class LayerNorm extends HfModule {

    private final long dim;
    private final float eps;
    private final Parameter weight;
    private final Parameter bias;

    /**
     * Creates a layer norm over vectors of size {@code dim}.
     *
     * @param dim the size of the last axis
     * @param eps the variance epsilon ({@code layer_norm_eps} of the config)
     */
    public LayerNorm(long dim, float eps) {
        this.dim = dim;
        this.eps = eps;
        weight = parameter("weight", Parameter.Type.GAMMA, new Shape(dim));
        bias = parameter("bias", Parameter.Type.BETA, new Shape(dim));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        return ai.djl.nn.norm.LayerNorm.layerNorm(
                x,
                new Shape(dim),
                value(parameterStore, weight, x, training),
                value(parameterStore, bias, x, training),
                eps);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
