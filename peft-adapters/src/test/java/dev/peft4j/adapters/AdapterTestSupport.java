package dev.peft4j.adapters;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.core.testing.TinyModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** What the method tests share: a one-layer model, per-step memory of the model's manager, save and reload. */
public final class AdapterTestSupport {

    private AdapterTestSupport() {}

    /** A seeded {@code Linear(in -> out)} at module path {@code 0} of a SequentialBlock, for inputs {@code [3, in]}. */
    public static Block singleLinear(NDManager manager, int in, int out) {
        SequentialBlock b = new SequentialBlock().add(Linear.builder().setUnits(out).build());
        TinyModels.init(b, manager, new Shape(3, in), 4);
        return b;
    }

    /**
     * Runs a training forward and backward pass on an input living in a sub-manager of
     * {@code manager}, then closes it, and asserts that {@code manager} holds as many arrays as
     * before: an adapter must not leave per-step results in the model's manager.
     */
    public static void assertStepLeavesManagerFlat(Block root, NDArray input, NDManager manager) {
        int before = manager.getManagedArrays().size();
        for (int step = 0; step < 3; step++) {
            try (NDManager batch = manager.newSubManager();
                    GradientCollector gc = manager.getEngine().newGradientCollector()) {
                NDArray x = input.duplicate();
                x.attach(batch);
                NDArray y =
                        root.forward(new ParameterStore(batch, false), new NDList(x), true)
                                .singletonOrThrow();
                gc.backward(y.square().sum());
            }
        }
        assertEquals(
                before, manager.getManagedArrays().size(), "arrays left in the model's manager");
    }

    /**
     * Saves the model's default adapter to {@code dir}, loads it onto {@code freshRoot} (the same
     * base model, built again), asserts that both give the same output for {@code x}, and returns
     * the saved tensors' shapes by key.
     */
    public static Map<String, Shape> saveAndReload(
            PeftModel pm, Block freshRoot, NDArray x, Path dir) throws IOException {
        NDArray expected = TinyModels.forward(pm.root(), x);
        pm.save(dir);
        PeftModel loaded = PeftModel.load(freshRoot, dir);
        NdAssert.assertAlmostEquals(TinyModels.forward(loaded.root(), x), expected, 1e-6, 1e-7);
        Map<String, Shape> shapes = new TreeMap<>();
        try (SafetensorsReader r =
                SafetensorsReader.open(dir.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
            r.keys().forEach(k -> shapes.put(k, r.info(k).shape()));
        }
        return shapes;
    }
}
