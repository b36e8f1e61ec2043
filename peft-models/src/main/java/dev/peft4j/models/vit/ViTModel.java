package dev.peft4j.models.vit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.Encoder;
import dev.peft4j.models.nn.HfModule;
import dev.peft4j.models.nn.LayerNorm;
import dev.peft4j.models.nn.ModuleList;
import dev.peft4j.models.nn.Pooler;
import java.util.List;

/**
 * HF {@code ViTModel}: children {@code embeddings}, {@code encoder} ({@code encoder.layer.N}),
 * {@code layernorm} and optionally {@code pooler}.
 *
 * <p>Input: {@code pixel_values [B, C, S, S]}. Outputs: the normalized last hidden state {@code
 * [B, N + 1, H]} (token 0 is the class token) and, with a pooler, {@code pooler_output [B, H]}.
 */
public final class ViTModel extends HfModule {

    private final ViTConfig config;
    private Block embeddings;
    private Block encoder;
    private Block layernorm;
    private Block pooler;

    /**
     * Creates a ViT with freshly initialized weights once {@link #initialize} runs.
     *
     * @param config the model config
     * @param addPoolingLayer whether to include the {@code pooler} (HF's {@code
     *     add_pooling_layer})
     */
    public ViTModel(ViTConfig config, boolean addPoolingLayer) {
        this.config = config;
        long h = config.hiddenSize();
        Shape hidden = new Shape(1, 1, h);
        embeddings =
                register(
                        "embeddings",
                        new ViTEmbeddings(config),
                        new Shape(1, config.numChannels(), config.imageSize(), config.imageSize()));
        List<Block> layers =
                ModuleList.repeat(config.numHiddenLayers(), () -> new ViTLayer(config));
        encoder = register("encoder", new Encoder(layers, h), hidden);
        layernorm = register("layernorm", new LayerNorm(h, config.layerNormEps()), hidden);
        if (addPoolingLayer) {
            pooler = register("pooler", new Pooler(h), hidden);
        }
        setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
    }

    /**
     * Returns the config this model was built from.
     *
     * @return the config
     */
    public ViTConfig config() {
        return config;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray hidden = call(embeddings, parameterStore, training, params, inputs.head());
        hidden = call(encoder, parameterStore, training, params, hidden);
        hidden = call(layernorm, parameterStore, training, params, hidden);
        if (pooler == null) {
            return new NDList(hidden);
        }
        return new NDList(hidden, call(pooler, parameterStore, training, params, hidden));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        long b = inputShapes[0].get(0);
        Shape hidden = new Shape(b, config.numPatches() + 1, config.hiddenSize());
        return pooler == null
                ? new Shape[] {hidden}
                : new Shape[] {hidden, new Shape(b, config.hiddenSize())};
    }
}
