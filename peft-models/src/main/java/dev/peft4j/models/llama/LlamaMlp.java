package dev.peft4j.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.Activations;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code LlamaMLP} (SwiGLU): {@code down_proj(act(gate_proj(x)) * up_proj(x))}, children
 * {@code gate_proj}, {@code up_proj}, {@code down_proj}.
 */
public final class LlamaMlp extends HfModule {

    private final String activation;
    private Block gateProj;
    private Block upProj;
    private Block downProj;

    /**
     * Creates the MLP of one decoder layer.
     *
     * @param config the model config
     */
    public LlamaMlp(LlamaConfig config) {
        activation = config.hiddenAct();
        long h = config.hiddenSize();
        long i = config.intermediateSize();
        boolean bias = config.mlpBias();
        gateProj = linear("gate_proj", h, i, bias);
        upProj = linear("up_proj", h, i, bias);
        downProj = linear("down_proj", i, h, bias);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray gate =
                Activations.apply(activation, call(gateProj, parameterStore, training, params, x));
        NDArray up = call(upProj, parameterStore, training, params, x);
        return new NDList(call(downProj, parameterStore, training, params, gate.mul(up)));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
