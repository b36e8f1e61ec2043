package dev.peft4j.models.vit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import dev.peft4j.models.nn.HfModule;

/**
 * HF {@code ViTForImageClassification}: children {@code vit} (a {@link ViTModel} without pooler)
 * and {@code classifier}, applied to the class token of the normalized last hidden state.
 *
 * <p>Input: {@code pixel_values [B, C, S, S]}; output: {@code logits [B, numLabels]}.
 */
public final class ViTForImageClassification extends HfModule {

    /** Prefix of the encoder's parameters, HF's {@code base_model_prefix}. */
    public static final String BASE_MODEL_PREFIX = "vit.";

    private final int numLabels;
    private Block vit;
    private Block classifier;

    /**
     * Creates an image classifier.
     *
     * @param config the model config
     * @param numLabels the number of classes
     */
    public ViTForImageClassification(ViTConfig config, int numLabels) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be positive, got " + numLabels);
        }
        this.numLabels = numLabels;
        vit =
                register(
                        "vit",
                        new ViTModel(config, false),
                        new Shape(1, config.numChannels(), config.imageSize(), config.imageSize()));
        classifier = linear("classifier", config.hiddenSize(), numLabels, true);
        setInitializer(new NormalInitializer(config.initializerRange()), Parameter.Type.WEIGHT);
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDArray hidden = vit.forward(parameterStore, inputs, training, params).head();
        NDArray cls = hidden.get(new NDIndex(":, 0"));
        return new NDList(call(classifier, parameterStore, training, params, cls));
    }

    /** {@inheritDoc} */
    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), numLabels)};
    }
}
