package dev.peft4j.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.Attention;
import dev.peft4j.models.nn.Embedding;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.ModuleList;
import dev.peft4j.models.nn.RmsNorm;
import java.util.List;

/**
 * HF {@code LlamaModel}: children {@code embed_tokens}, {@code layers} ({@code layers.N}) and
 * {@code norm}; causal self-attention with RoPE.
 *
 * <p>Inputs: {@code input_ids [B, T]}, optionally {@code attention_mask [B, T]} (1 = real token)
 * and {@code position_ids [B, T]} ({@code 0..T-1} when absent). Output: the normalized last hidden
 * state {@code [B, T, H]}.
 */
public final class LlamaModel extends HfModule {

    private final LlamaConfig config;
    private final float[] inverseFrequencies;
    private Block embedTokens;
    private Block layers;
    private Block norm;

    /**
     * Creates a decoder with freshly initialized weights once {@link #initialize} runs.
     *
     * @param config the model config
     */
    public LlamaModel(LlamaConfig config) {
        this.config = config;
        inverseFrequencies = Rope.inverseFrequencies(config.headDim(), config.ropeTheta());
        long h = config.hiddenSize();
        embedTokens =
                register("embed_tokens", new Embedding(config.vocabSize(), h), new Shape(1, 1));
        List<Block> decoderLayers =
                ModuleList.repeat(config.numHiddenLayers(), () -> new LlamaDecoderLayer(config));
        layers =
                register(
                        "layers",
                        new ModuleList(decoderLayers, new Shape(1, 1, h)),
                        new Shape(1, 1, h));
        norm = register("norm", new RmsNorm(h, config.rmsNormEps()), new Shape(1, 1, h));
        setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
    }

    /**
     * Returns the config this model was built from.
     *
     * @return the config
     */
    public LlamaConfig config() {
        return config;
    }

    /**
     * Returns the token embedding table's parameter, which a tied {@code lm_head} shares.
     *
     * @return {@code embed_tokens.weight}
     * @throws IllegalStateException if {@code embed_tokens} was replaced by a block that is not an
     *     {@link Embedding}
     */
    public Parameter embeddingWeight() {
        if (!(embedTokens instanceof Embedding)) {
            throw new IllegalStateException(
                    "embed_tokens is a "
                            + embedTokens.getClass().getSimpleName()
                            + ", so lm_head cannot be tied to it");
        }
        return ((Embedding) embedTokens).weight();
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray ids = inputs.head();
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        long length = ids.getShape().get(1);
        NDManager manager = ids.getManager();
        NDArray positions =
                inputs.size() > 2
                        ? inputs.get(2)
                        : manager.arange(0, length, 1, DataType.INT64, ids.getDevice())
                                .expandDims(0);
        NDArray hidden = call(embedTokens, parameterStore, training, params, ids);
        NDList cosSin = Rope.cosSin(positions, inverseFrequencies);
        NDArray bias = Attention.maskBias(allowed(ids, mask), hidden.getDataType());
        NDList layerInputs = new NDList(hidden, cosSin.get(0), cosSin.get(1), bias);
        hidden = layers.forward(parameterStore, layerInputs, training, params).head();
        return new NDList(call(norm, parameterStore, training, params, hidden));
    }

    /** Returns which keys each query may attend: {@code [B or 1, 1, T, T]}, causal and unpadded. */
    private static NDArray allowed(NDArray ids, NDArray mask) {
        long length = ids.getShape().get(1);
        NDArray steps = ids.getManager().arange(0, length, 1, DataType.INT64, ids.getDevice());
        NDArray causal = steps.expandDims(1).gte(steps.expandDims(0)).expandDims(0).expandDims(0);
        if (mask == null) {
            return causal;
        }
        NDArray real = mask.toType(DataType.BOOLEAN, false).expandDims(1).expandDims(1);
        return causal.logicalAnd(real);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(config.hiddenSize())};
    }
}
