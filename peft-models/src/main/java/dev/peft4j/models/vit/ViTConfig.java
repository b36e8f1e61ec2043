package dev.peft4j.models.vit;

import com.google.gson.annotations.SerializedName;
import dev.peft4j.models.nn.Activations;
import dev.peft4j.models.nn.HfConfig;
import java.io.Reader;
import java.nio.file.Path;

/**
 * An HF {@code ViTConfig} ({@code model_type} "vit"), with HF's defaults for keys a {@code
 * config.json} leaves out.
 */
public final class ViTConfig extends HfConfig {

    @SerializedName("model_type")
    private String modelType = "vit";

    @SerializedName("hidden_size")
    private int hiddenSize = 768;

    @SerializedName("num_hidden_layers")
    private int numHiddenLayers = 12;

    @SerializedName("num_attention_heads")
    private int numAttentionHeads = 12;

    @SerializedName("intermediate_size")
    private int intermediateSize = 3072;

    @SerializedName("hidden_act")
    private String hiddenAct = "gelu";

    @SerializedName("hidden_dropout_prob")
    private float hiddenDropoutProb;

    @SerializedName("attention_probs_dropout_prob")
    private float attentionProbsDropoutProb;

    @SerializedName("initializer_range")
    private float initializerRange = 0.02f;

    @SerializedName("layer_norm_eps")
    private float layerNormEps = 1e-12f;

    @SerializedName("image_size")
    private int imageSize = 224;

    @SerializedName("patch_size")
    private int patchSize = 16;

    @SerializedName("num_channels")
    private int numChannels = 3;

    @SerializedName("qkv_bias")
    private boolean qkvBias = true;

    /** Creates a config with HF's defaults (ViT-Base/16), used by Gson before it fills the keys. */
    private ViTConfig() {}

    /**
     * Reads a {@code config.json}.
     *
     * @param file the file
     * @return the validated config
     */
    public static ViTConfig read(Path file) {
        return read(file, ViTConfig.class);
    }

    /**
     * Reads a {@code config.json} from a reader.
     *
     * @param reader the JSON source
     * @param origin what to call the source in error messages
     * @return the validated config
     */
    public static ViTConfig read(Reader reader, String origin) {
        return read(reader, ViTConfig.class, origin);
    }

    /**
     * Parses {@code config.json} text.
     *
     * @param json the JSON text
     * @return the validated config
     */
    public static ViTConfig parse(String json) {
        return parse(json, ViTConfig.class);
    }

    /** {@inheritDoc} */
    @Override
    protected void validate() {
        requirePositive("hidden_size", hiddenSize);
        requirePositive("num_hidden_layers", numHiddenLayers);
        requireDivisible(hiddenSize, numAttentionHeads);
        requirePositive("intermediate_size", intermediateSize);
        requirePositive("layer_norm_eps", layerNormEps);
        requirePositive("patch_size", patchSize);
        requirePositive("num_channels", numChannels);
        requireRate("hidden_dropout_prob", hiddenDropoutProb);
        requireRate("attention_probs_dropout_prob", attentionProbsDropoutProb);
        if (imageSize <= 0 || imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image_size " + imageSize
                    + " must be a positive multiple of patch_size " + patchSize);
        }
        hiddenAct = Activations.check(hiddenAct, "hidden_act");
    }

    /**
     * Returns {@code hidden_size}.
     *
     * @return the hidden size
     */
    public int hiddenSize() {
        return hiddenSize;
    }

    /**
     * Returns {@code num_hidden_layers}.
     *
     * @return the number of layers
     */
    public int numHiddenLayers() {
        return numHiddenLayers;
    }

    /**
     * Returns {@code num_attention_heads}.
     *
     * @return the number of heads
     */
    public int numAttentionHeads() {
        return numAttentionHeads;
    }

    /**
     * Returns {@code intermediate_size}.
     *
     * @return the feed-forward size
     */
    public int intermediateSize() {
        return intermediateSize;
    }

    /**
     * Returns {@code hidden_act}.
     *
     * @return the activation name
     */
    public String hiddenAct() {
        return hiddenAct;
    }

    /**
     * Returns {@code hidden_dropout_prob}.
     *
     * @return the hidden dropout rate
     */
    public float hiddenDropoutProb() {
        return hiddenDropoutProb;
    }

    /**
     * Returns {@code attention_probs_dropout_prob}.
     *
     * @return the attention dropout rate
     */
    public float attentionProbsDropoutProb() {
        return attentionProbsDropoutProb;
    }

    /**
     * Returns {@code initializer_range}.
     *
     * @return the standard deviation of freshly initialized weights
     */
    public float initializerRange() {
        return initializerRange;
    }

    /**
     * Returns {@code layer_norm_eps}.
     *
     * @return the LayerNorm epsilon
     */
    public float layerNormEps() {
        return layerNormEps;
    }

    /**
     * Returns {@code image_size}.
     *
     * @return the side of the square input image in pixels
     */
    public int imageSize() {
        return imageSize;
    }

    /**
     * Returns {@code patch_size}.
     *
     * @return the side of a square patch in pixels
     */
    public int patchSize() {
        return patchSize;
    }

    /**
     * Returns {@code num_channels}.
     *
     * @return the number of image channels
     */
    public int numChannels() {
        return numChannels;
    }

    /**
     * Returns {@code qkv_bias}.
     *
     * @return whether query, key and value have biases
     */
    public boolean qkvBias() {
        return qkvBias;
    }

    /**
     * Returns the number of patches, {@code (image_size / patch_size)^2}.
     *
     * @return the number of patches
     */
    public int numPatches() {
        int side = imageSize / patchSize;
        return side * side;
    }
}
