package dev.peft4j.models.vit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code ViTEmbeddings}: parameters {@code cls_token [1, 1, H]} and {@code position_embeddings
 * [1, N + 1, H]}, child {@code patch_embeddings}; output {@code [cls; patches] + positions} then
 * dropout.
 */
public final class ViTEmbeddings extends HfModule {

    private final ViTConfig config;
    private final Parameter clsToken;
    private final Parameter positionEmbeddings;
    private Block patchEmbeddings;

    /**
     * Creates the embeddings of a ViT.
     *
     * @param config the model config
     */
    public ViTEmbeddings(ViTConfig config) {
        this.config = config;
        long h = config.hiddenSize();
        NormalInitializer init = new NormalInitializer(config.initializerRange());
        clsToken = parameter("cls_token", new Shape(1, 1, h), init);
        patchEmbeddings =
                register(
                        "patch_embeddings",
                        new ViTPatchEmbeddings(config),
                        new Shape(1, config.numChannels(), config.imageSize(), config.imageSize()));
        positionEmbeddings =
                parameter("position_embeddings", new Shape(1, config.numPatches() + 1, h), init);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray patches = call(patchEmbeddings, parameterStore, training, params, inputs.head());
        long batch = patches.getShape().get(0);
        NDArray cls =
                value(parameterStore, clsToken, patches, training)
                        .broadcast(new Shape(batch, 1, config.hiddenSize()));
        NDArray tokens =
                NDArrays.concat(new NDList(cls, patches), 1)
                        .add(value(parameterStore, positionEmbeddings, patches, training));
        if (training && config.hiddenDropoutProb() > 0) {
            tokens = Dropout.dropout(tokens, config.hiddenDropoutProb(), true).head();
        }
        return new NDList(tokens);
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {
            new Shape(inputShapes[0].get(0), config.numPatches() + 1, config.hiddenSize())
        };
    }
}
