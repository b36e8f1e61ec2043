package dev.peft4j.models.testing;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import dev.peft4j.models.io.HfStateDict;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Random;

/** Seeded random weights for tiny models, loaded through the HF-name loader. */
public final class TestWeights {

    private TestWeights() {}

    /**
     * Initializes a block, then draws every parameter from a seeded Gaussian (norm weights around
     * 1) and loads them by HF name.
     *
     * @param model the model
     * @param manager the manager of its parameters
     * @param inputShapes the shapes to initialize it with
     * @param seed the random seed
     * @return the values loaded, by HF name
     */
    public static MapTensorSource randomize(
            Block model, NDManager manager, long seed, Shape... inputShapes) {
        model.initialize(manager, DataType.FLOAT32, inputShapes);
        Random random = new Random(seed);
        MapTensorSource source = new MapTensorSource();
        for (Map.Entry<String, Parameter> e : HfStateDict.of(model).entrySet()) {
            Shape shape = e.getValue().getArray().getShape();
            boolean norm =
                    e.getKey().endsWith("norm.weight")
                            || e.getKey().endsWith("LayerNorm.weight")
                            || e.getKey().endsWith("layernorm_before.weight")
                            || e.getKey().endsWith("layernorm_after.weight");
            float[] v = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) ((norm ? 1 : 0) + 0.3 * random.nextGaussian());
            }
            source.put(e.getKey(), shape, v);
        }
        try {
            HfWeights.load(model, source, LoadOptions.strict());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return source;
    }
}
