package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.core.testing.NdAssert;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assertions;

/**
 * Tiny seeded models with Hugging Face-like tensor names for the merge tests: an embedding, square,
 * tall and wide linear weights, biases, a norm, and an integer buffer.
 */
public final class MergeFixtures {

    /** The tensors of the tiny model, in storage order. */
    public static final Map<String, Shape> LAYOUT = layout();

    /** The linear modules a LoRA adapter may target. */
    public static final List<String> LINEAR_MODULES =
            List.of("layers.0.query", "layers.0.fc1", "layers.0.fc2", "layers.1.query");

    private MergeFixtures() {}

    private static Map<String, Shape> layout() {
        Map<String, Shape> m = new LinkedHashMap<>();
        m.put("embeddings.word_embeddings.weight", new Shape(11, 6));
        m.put("embeddings.position_ids", new Shape(1, 7));
        for (int l = 0; l < 2; l++) {
            String p = "layers." + l + ".";
            m.put(p + "query.weight", new Shape(6, 6));
            m.put(p + "query.bias", new Shape(6));
            m.put(p + "fc1.weight", new Shape(9, 6));
            m.put(p + "fc2.weight", new Shape(6, 9));
            m.put(p + "norm.weight", new Shape(6));
        }
        return m;
    }

    /** The base model: uniform values in [-0.5, 0.5), the integer buffer 0..6. */
    public static MemoryTensors base(NDManager manager, long seed) {
        MemoryTensors t = new MemoryTensors(manager);
        SplittableRandom rnd = new SplittableRandom(seed);
        try (NDManager scope = manager.newSubManager()) {
            LAYOUT.forEach(
                    (key, shape) -> {
                        if (key.endsWith("position_ids")) {
                            t.put(
                                    key,
                                    scope.arange(0L, shape.size())
                                            .toType(DataType.INT64, false)
                                            .reshape(shape));
                        } else {
                            t.put(key, uniform(scope, shape, rnd, 0.5));
                        }
                    });
        }
        return t;
    }

    /** A full fine-tune of {@code base}: every floating-point tensor plus {@code scale} N(0, 1) (full rank). */
    public static MemoryTensors fineTuned(
            NDManager manager, TensorSource base, long seed, double scale) throws IOException {
        MemoryTensors t = new MemoryTensors(manager);
        SplittableRandom rnd = new SplittableRandom(seed);
        try (NDManager scope = manager.newSubManager()) {
            for (String key : base.keys()) {
                NDArray b = base.load(key, scope);
                t.put(
                        key,
                        b.getDataType().isFloating()
                                ? b.add(gaussian(scope, b.getShape(), rnd, scale))
                                : b);
            }
        }
        return t;
    }

    /** Uniform values in [-bound, bound). */
    public static NDArray uniform(
            NDManager manager, Shape shape, SplittableRandom rnd, double bound) {
        float[] v = new float[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
        }
        return manager.create(v, shape);
    }

    /** Gaussian values with standard deviation {@code std} (Box-Muller). */
    public static NDArray gaussian(
            NDManager manager, Shape shape, SplittableRandom rnd, double std) {
        float[] v = new float[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            double u1 = 1.0 - rnd.nextDouble();
            v[i] =
                    (float)
                            (std
                                    * Math.sqrt(-2 * Math.log(u1))
                                    * Math.cos(2 * Math.PI * rnd.nextDouble()));
        }
        return manager.create(v, shape);
    }

    /** Writes tensors as a Hugging Face folder, sharded when they exceed {@code maxShardBytes}. */
    public static Path writeModel(Path dir, TensorSource tensors, long maxShardBytes)
            throws IOException {
        try (NDManager scope = NDManager.newBaseManager();
                ShardedCheckpointWriter w =
                        ShardedCheckpointWriter.open(dir, maxShardBytes, Map.of("format", "pt"))) {
            for (String key : tensors.keys()) {
                w.write(key, tensors.load(key, scope));
            }
            w.commit();
        }
        return dir;
    }

    /** LoRA factors of one module. */
    public record Lora(NDArray a, NDArray b) {}

    /** Random LoRA factors (both non-zero) of rank {@code r} for {@code modules} of the base. */
    public static Map<String, Lora> randomLora(
            NDManager manager, TensorSource base, List<String> modules, int r, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, Lora> out = new LinkedHashMap<>();
        for (String module : modules) {
            Shape w = base.info(module + ".weight").shape();
            out.put(
                    module,
                    new Lora(
                            gaussian(manager, new Shape(r, w.get(1)), rnd, 0.3),
                            gaussian(manager, new Shape(w.get(0), r), rnd, 0.3)));
        }
        return out;
    }

    /** Writes a PEFT LoRA adapter folder holding {@code factors}. */
    public static Path writeLora(Path dir, Map<String, Lora> factors, int r, double alpha)
            throws IOException {
        LoraConfig config =
                LoraConfig.builder()
                        .optRank(r)
                        .optAlpha(alpha)
                        .setTargetModules(factors.keySet().toArray(new String[0]))
                        .build();
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        factors.forEach(
                (module, f) -> {
                    tensors.put(AdapterCheckpoint.PREFIX + module + ".lora_A.weight", f.a());
                    tensors.put(AdapterCheckpoint.PREFIX + module + ".lora_B.weight", f.b());
                });
        AdapterCheckpoint.writeFolder(dir, config, tensors);
        return dir;
    }

    /** The model a LoRA adapter turns the base into: {@code W + (alpha / r) B A} on the adapted modules. */
    public static MemoryTensors applyLora(
            NDManager manager, TensorSource base, Map<String, Lora> factors, int r, double alpha)
            throws IOException {
        MemoryTensors t = new MemoryTensors(manager);
        try (NDManager scope = manager.newSubManager()) {
            for (String key : base.keys()) {
                NDArray w = base.load(key, scope);
                String module = key.endsWith(".weight") ? key.substring(0, key.length() - 7) : null;
                Lora f = module == null ? null : factors.get(module);
                t.put(key, f == null ? w : w.add(f.b().matMul(f.a()).mul(alpha / r)));
            }
        }
        return t;
    }

    /** Asserts two tensor sets hold the same tensors within tolerances. */
    public static void assertSameModel(
            TensorSource actual, TensorSource expected, double rtol, double atol)
            throws IOException {
        Assertions.assertEquals(expected.keys().size(), actual.keys().size(), "tensor count");
        try (NDManager scope = NDManager.newBaseManager()) {
            for (String key : expected.keys()) {
                NdAssert.assertAlmostEquals(
                        actual.load(key, scope), expected.load(key, scope), rtol, atol);
            }
        }
    }

    /** The floating-point values of an array as doubles. */
    public static double[] values(NDArray a) {
        float[] f = a.toType(DataType.FLOAT32, false).toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
