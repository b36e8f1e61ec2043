package dev.peft4j.models.vit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code ViTPatchEmbeddings}: child {@code projection}, a DJL {@link Conv2d} with kernel and
 * stride {@code patch_size} (weight {@code [hidden, channels, p, p]}); turns {@code [B, C, S, S]}
 * pixels into {@code [B, N, hidden]} patch vectors in row-major patch order.
 */
public final class ViTPatchEmbeddings extends HfModule {

    private final ViTConfig config;
    private Block projection;

    /**
     * Creates the patch projection.
     *
     * @param config the model config
     */
    public ViTPatchEmbeddings(ViTConfig config) {
        this.config = config;
        Shape patch = new Shape(config.patchSize(), config.patchSize());
        Conv2d conv =
                Conv2d.builder()
                        .setKernelShape(patch)
                        .optStride(patch)
                        .setFilters(config.hiddenSize())
                        .build();
        projection =
                register(
                        "projection",
                        conv,
                        new Shape(1, config.numChannels(), config.imageSize(), config.imageSize()));
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray pixels = inputs.head();
        Shape s = pixels.getShape();
        Shape expected =
                new Shape(s.get(0), config.numChannels(), config.imageSize(), config.imageSize());
        if (!s.equals(expected)) {
            throw new IllegalArgumentException(
                    "pixel_values has shape " + s + ", expected " + expected);
        }
        NDArray maps = call(projection, parameterStore, training, params, pixels);
        return new NDList(maps.flatten(2, 3).transpose(0, 2, 1));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {
            new Shape(inputShapes[0].get(0), config.numPatches(), config.hiddenSize())
        };
    }
}
