package dev.peft4j.examples.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import dev.peft4j.merge.MergeMethods;
import dev.peft4j.merge.mergekit.Mergekit;
import dev.peft4j.merge.mergekit.MergekitConfig;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Merging models with the exact tensor shapes of TinyLlama-1.1B (22 layers, hidden 2048, MLP 5632,
 * 4 key-value heads of 64, vocabulary 32000; 1.1B parameters, random bfloat16 weights in 2 GB
 * safetensors shards written to a temporary folder): task arithmetic, TIES and mergekit's
 * dare_ties over 2 and 4 fine-tuned models, each in a fresh child JVM (a fixed 1 GiB heap): wall
 * time, GB of weights read per second beside the page-cache read rate of the same files measured in
 * the same run, and peak RSS. Needs about 11 GB of disk. Args: methods (default {@code
 * task_arithmetic,ties,dare_ties}), optional folder to keep the files in.
 */
public final class LlmMergeBenchmark {

    private static final int[] SIZES = {2, 4};

    private LlmMergeBenchmark() {}

    /** TinyLlama-1.1B's tensor names and shapes. */
    static Map<String, Shape> layout() {
        Map<String, Shape> m = new LinkedHashMap<>();
        m.put("model.embed_tokens.weight", new Shape(32000, 2048));
        for (int i = 0; i < 22; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "self_attn.q_proj.weight", new Shape(2048, 2048));
            m.put(p + "self_attn.k_proj.weight", new Shape(256, 2048));
            m.put(p + "self_attn.v_proj.weight", new Shape(256, 2048));
            m.put(p + "self_attn.o_proj.weight", new Shape(2048, 2048));
            m.put(p + "mlp.gate_proj.weight", new Shape(5632, 2048));
            m.put(p + "mlp.up_proj.weight", new Shape(5632, 2048));
            m.put(p + "mlp.down_proj.weight", new Shape(2048, 5632));
            m.put(p + "input_layernorm.weight", new Shape(2048));
            m.put(p + "post_attention_layernorm.weight", new Shape(2048));
        }
        m.put("model.norm.weight", new Shape(2048));
        m.put("lm_head.weight", new Shape(32000, 2048));
        return m;
    }

    /** Parent: writes the models, measures the read rate, runs the children; child: {@code --child method n dir}. */
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--child")) {
            child(args[1], Integer.parseInt(args[2]), Path.of(args[3]));
            return;
        }
        List<String> methods =
                List.of((args.length > 0 ? args[0] : "task_arithmetic,ties,dare_ties").split(","));
        Path dir =
                args.length > 1 ? Path.of(args[1]) : Files.createTempDirectory("llm-merge-bench");
        try {
            long params = layout().values().stream().mapToLong(Shape::size).sum();
            for (String name : List.of("base", "ft-0", "ft-1", "ft-2", "ft-3")) {
                if (!Files.exists(dir.resolve(name))) {
                    writeModel(dir.resolve(name), name.hashCode());
                }
            }
            Files.writeString(
                    dir.resolve("base/config.json"),
                    "{\"model_type\": \"llama\", \"num_hidden_layers\": 22, \"torch_dtype\":"
                            + " \"bfloat16\"}");
            double gb = 2 * params / 1e9;
            readRate(dir, 5); // warm the page cache
            double read = readRate(dir, 5);
            System.out.printf(
                    Locale.ROOT,
                    "TinyLlama-1.1B shapes: %,d parameters, %.2f GB per model (bfloat16), %d"
                            + " cores%npage-cache read rate of the files: %.2f GB/s%n",
                    params,
                    gb,
                    Runtime.getRuntime().availableProcessors(),
                    read);
            System.out.printf(
                    Locale.ROOT,
                    "%-16s %6s %9s %13s %13s %13s%n",
                    "method",
                    "models",
                    "time s",
                    "GB read/s",
                    "vs read rate",
                    "peak RSS MiB");
            for (String method : methods) {
                for (int n : SIZES) {
                    String[] f = runChild(method, n, dir).trim().split("\\s+");
                    double seconds = Double.parseDouble(f[1]);
                    double rate = (n + 1) * gb / seconds;
                    System.out.printf(
                            Locale.ROOT,
                            "%-16s %6d %9.1f %13.2f %13.2f %13s%n",
                            method,
                            n,
                            seconds,
                            rate,
                            rate / read,
                            f[0]);
                }
            }
        } finally {
            if (args.length < 2) {
                MiniLmFiles.delete(dir);
            }
        }
    }

    private static void writeModel(Path dir, long seed) throws Exception {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (NDManager m = NDManager.newBaseManager();
                ShardedCheckpointWriter w =
                        ShardedCheckpointWriter.open(dir, 2_000_000_000L, Map.of("format", "pt"))) {
            for (Map.Entry<String, Shape> e : layout().entrySet()) {
                float[] v = new float[(int) e.getValue().size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) ((rnd.nextDouble() - 0.5) * 0.1);
                }
                try (NDManager scope = m.newSubManager()) {
                    w.write(e.getKey(), scope.create(v, e.getValue()), DataType.BFLOAT16);
                }
            }
            w.commit();
        }
    }

    /** GB/s of reading base and ft-0..ft-(n-1) sequentially. */
    private static double readRate(Path dir, int models) throws Exception {
        List<Path> files = new ArrayList<>();
        for (String name : List.of("base", "ft-0", "ft-1", "ft-2", "ft-3").subList(0, models)) {
            try (Stream<Path> s = Files.list(dir.resolve(name))) {
                s.filter(p -> p.toString().endsWith(".safetensors")).forEach(files::add);
            }
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(16 << 20);
        long bytes = 0;
        long start = System.nanoTime();
        for (Path f : files) {
            try (FileChannel ch = FileChannel.open(f)) {
                int r;
                while ((r = ch.read(buffer)) >= 0) {
                    bytes += r;
                    buffer.clear();
                }
            }
        }
        return bytes / 1e9 / ((System.nanoTime() - start) / 1e9);
    }

    private static String runChild(String method, int n, Path dir) throws Exception {
        return MiniLmFiles.runChild(
                "1g",
                LlmMergeBenchmark.class,
                "--child",
                method,
                String.valueOf(n),
                dir.toString());
    }

    /** Merges {@code n} models into a temporary folder; prints {@code RESULT peakMiB seconds}. */
    private static void child(String method, int n, Path dir) throws Exception {
        Engine.getInstance();
        Path out = Files.createTempDirectory(dir, "out");
        long start = System.nanoTime();
        try {
            if (method.equals("dare_ties")) {
                StringBuilder yml =
                        new StringBuilder(
                                "merge_method: dare_ties\nbase_model: "
                                        + dir.resolve("base")
                                        + "\nmodels:\n");
                for (int i = 0; i < n; i++) {
                    yml.append("  - model: ")
                            .append(dir.resolve("ft-" + i))
                            .append("\n    parameters: {weight: 0.5, density: 0.3}\n");
                }
                Path config = out.resolve("dare.yml");
                Files.writeString(config, yml.toString());
                Mergekit.run(
                        MergekitConfig.read(config),
                        out.resolve("merged"),
                        Mergekit.RunOptions.defaults());
            } else {
                MiniLmFiles.mergeFolders(
                        MergeMethods.create(method, Map.of()), dir, n, out.resolve("merged"));
            }
        } finally {
            MiniLmFiles.delete(out);
        }
        System.out.printf(
                Locale.ROOT,
                "RESULT %.0f %.2f%n",
                MiniLmFiles.peakRssMiB(),
                (System.nanoTime() - start) / 1e9);
    }
}
