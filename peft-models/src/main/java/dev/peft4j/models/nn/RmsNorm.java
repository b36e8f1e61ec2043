package dev.peft4j.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * HF {@code LlamaRMSNorm}: {@code weight * x / sqrt(mean(x^2) + eps)} over the last axis, computed
 * in float32 whatever the input dtype (as HF does, so half-precision inputs do not overflow).
 */
public final class RmsNorm extends HfModule {

    private final float eps;
    private final Parameter weight;

    /**
     * Creates an RMS norm over vectors of size {@code dim}.
     *
     * @param dim the size of the last axis
     * @param eps the epsilon ({@code rms_norm_eps} of the config)
     */
    public RmsNorm(long dim, float eps) {
        this.eps = eps;
        weight = parameter("weight", Parameter.Type.GAMMA, new Shape(dim));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        DataType dtype = x.getDataType();
        NDArray x32 = x.toType(DataType.FLOAT32, false);
        NDArray meanSquare = x32.square().mean(new int[] {-1}, true);
        NDArray normalized = x32.div(meanSquare.add(eps).sqrt()).toType(dtype, false);
        return new NDList(value(parameterStore, weight, x, training).mul(normalized));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
