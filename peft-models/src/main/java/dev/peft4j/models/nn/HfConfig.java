package dev.peft4j.models.nn;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Base of the model configs: a Hugging Face {@code config.json} read with Gson (fields carry the HF
 * key names and HF's defaults; unknown keys such as {@code architectures} are ignored) and
 * validated after reading.
 */
public abstract class HfConfig {

    private static final Gson GSON =
            new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    /**
     * Checks the values after reading.
     *
     * @throws IllegalArgumentException naming the first invalid option
     */
    protected abstract void validate();

    /**
     * Reads and validates a config from a {@code config.json} file.
     *
     * @param file the file
     * @param type the config class
     * @param <C> the config class
     * @return the config
     * @throws IllegalArgumentException if the file is not valid JSON or a value is invalid
     */
    protected static <C extends HfConfig> C read(Path file, Class<C> type) {
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return read(reader, type, file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read config " + file, e);
        }
    }

    /**
     * Reads and validates a config from JSON text.
     *
     * @param json the content of a {@code config.json}
     * @param type the config class
     * @param <C> the config class
     * @return the config
     */
    protected static <C extends HfConfig> C parse(String json, Class<C> type) {
        return read(new StringReader(json), type, "config JSON");
    }

    /**
     * Reads and validates a config from a reader.
     *
     * @param reader the JSON source
     * @param type the config class
     * @param origin what to call the source in error messages
     * @param <C> the config class
     * @return the config
     */
    protected static <C extends HfConfig> C read(Reader reader, Class<C> type, String origin) {
        C config;
        try {
            config = GSON.fromJson(reader, type);
        } catch (JsonParseException | NumberFormatException | IllegalStateException e) {
            // Gson reports a number it cannot convert with a bare NumberFormatException
            throw new IllegalArgumentException("Invalid " + origin + ": " + e.getMessage(), e);
        }
        if (config == null) {
            throw new IllegalArgumentException("Empty " + origin);
        }
        try {
            config.validate();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(origin + ": " + e.getMessage(), e);
        }
        return config;
    }

    /**
     * Writes this config in the HF {@code config.json} layout.
     *
     * @return the JSON text
     */
    public String toJson() {
        return GSON.toJson(this);
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return toJson();
    }

    /**
     * Throws unless {@code value > 0}.
     *
     * @param option the HF key
     * @param value its value
     */
    protected static void requirePositive(String option, double value) {
        if (!(value > 0)) {
            throw new IllegalArgumentException(option + " must be positive, got " + value);
        }
    }

    /**
     * Throws unless {@code value} is a probability in {@code [0, 1)}.
     *
     * @param option the HF key
     * @param value its value
     */
    protected static void requireRate(String option, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(option + " must be in [0, 1), got " + value);
        }
    }

    /**
     * Throws unless {@code hidden} splits evenly into {@code heads}.
     *
     * @param hidden the hidden size
     * @param heads the number of heads
     */
    protected static void requireDivisible(long hidden, long heads) {
        requirePositive("num_attention_heads", heads);
        if (hidden % heads != 0) {
            throw new IllegalArgumentException(
                    "hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
    }
}
