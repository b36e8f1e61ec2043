package dev.peft4j.models.vit;

import com.google.gson.annotations.SerializedName;
import dev.peft4j.models.nn.EncoderConfig;
import java.io.Reader;
import java.nio.file.Path;

/**
 * An HF {@code ViTConfig} ({@code model_type} "vit"), with HF's defaults for keys a {@code
 * config.json} leaves out.
 */
public final class ViTConfig extends EncoderConfig {

    @SerializedName("model_type")
    private String modelType = "vit";

    @SerializedName("image_size")
    private int imageSize = 224;

    @SerializedName("patch_size")
    private int patchSize = 16;

    @SerializedName("num_channels")
    private int numChannels = 3;

    @SerializedName("qkv_bias")
    private boolean qkvBias = true;

    /** Creates a config with HF's defaults (ViT-Base/16, no dropout) for Gson to fill. */
    private ViTConfig() {
        defaultDropout(0f);
    }

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
        super.validate();
        requirePositive("patch_size", patchSize);
        requirePositive("num_channels", numChannels);
        if (imageSize <= 0 || imageSize % patchSize != 0) {
            throw new IllegalArgumentException(
                    "image_size "
                            + imageSize
                            + " must be a positive multiple of patch_size "
                            + patchSize);
        }
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
