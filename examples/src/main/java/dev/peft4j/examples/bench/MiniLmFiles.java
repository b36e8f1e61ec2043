package dev.peft4j.examples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Random models with the tensor names and shapes of all-MiniLM-L6-v2 (6 layers, hidden 384,
 * intermediate 1536, vocabulary 30522: 22.7M float32 parameters, 91 MB), and random LoRA adapters
 * for it, written as safetensors for the merge benchmarks.
 */
public final class MiniLmFiles {

    /** Hidden size. */
    static final int HIDDEN = 384;

    /** Feed-forward size. */
    static final int INTERMEDIATE = 1536;

    /** Encoder layers. */
    static final int LAYERS = 6;

    /** Vocabulary size. */
    static final int VOCAB = 30522;

    /** The module suffixes of "all linear" LoRA targets in a BERT layer. */
    static final List<String> ALL_LINEAR =
            List.of(
                    "attention.self.query",
                    "attention.self.key",
                    "attention.self.value",
                    "attention.output.dense",
                    "intermediate.dense",
                    "output.dense");

    /** LoRA on query and value only. */
    static final List<String> QUERY_VALUE = List.of("attention.self.query", "attention.self.value");

    private MiniLmFiles() {}

    /** Tensor names and shapes in checkpoint order. */
    public static Map<String, Shape> layout() {
        Map<String, Shape> m = new LinkedHashMap<>();
        m.put("embeddings.word_embeddings.weight", new Shape(VOCAB, HIDDEN));
        m.put("embeddings.position_embeddings.weight", new Shape(512, HIDDEN));
        m.put("embeddings.token_type_embeddings.weight", new Shape(2, HIDDEN));
        m.put("embeddings.LayerNorm.weight", new Shape(HIDDEN));
        m.put("embeddings.LayerNorm.bias", new Shape(HIDDEN));
        for (int l = 0; l < LAYERS; l++) {
            String p = "encoder.layer." + l + ".";
            for (String s :
                    List.of(
                            "attention.self.query",
                            "attention.self.key",
                            "attention.self.value",
                            "attention.output.dense")) {
                m.put(p + s + ".weight", new Shape(HIDDEN, HIDDEN));
                m.put(p + s + ".bias", new Shape(HIDDEN));
            }
            m.put(p + "attention.output.LayerNorm.weight", new Shape(HIDDEN));
            m.put(p + "attention.output.LayerNorm.bias", new Shape(HIDDEN));
            m.put(p + "intermediate.dense.weight", new Shape(INTERMEDIATE, HIDDEN));
            m.put(p + "intermediate.dense.bias", new Shape(INTERMEDIATE));
            m.put(p + "output.dense.weight", new Shape(HIDDEN, INTERMEDIATE));
            m.put(p + "output.dense.bias", new Shape(HIDDEN));
            m.put(p + "output.LayerNorm.weight", new Shape(HIDDEN));
            m.put(p + "output.LayerNorm.bias", new Shape(HIDDEN));
        }
        m.put("pooler.dense.weight", new Shape(HIDDEN, HIDDEN));
        m.put("pooler.dense.bias", new Shape(HIDDEN));
        return m;
    }

    /** The number of parameters (22.7M). */
    public static long parameterCount() {
        return layout().values().stream().mapToLong(Shape::size).sum();
    }

    /** Writes a model with weights {@code center + U(-spread, spread)} (seeded), tensor by tensor. */
    public static Path writeModel(Path dir, long seed, double spread) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (NDManager m = NDManager.newBaseManager();
                ShardedCheckpointWriter w =
                        ShardedCheckpointWriter.open(
                                dir,
                                ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES,
                                Map.of("format", "pt"))) {
            for (Map.Entry<String, Shape> e : layout().entrySet()) {
                try (NDManager scope = m.newSubManager()) {
                    w.write(e.getKey(), uniform(scope, e.getValue(), rnd, spread));
                }
            }
            w.commit();
        }
        return dir;
    }

    /** Writes a LoRA adapter of rank {@code r} (alpha 2r) on the given module suffixes of every layer. */
    public static Path writeLora(Path dir, long seed, int r, List<String> suffixes)
            throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<String> modules = new ArrayList<>();
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        Map<String, Shape> layout = layout();
        try (NDManager m = NDManager.newBaseManager()) {
            for (int l = 0; l < LAYERS; l++) {
                for (String s : suffixes) {
                    String module = "encoder.layer." + l + "." + s;
                    Shape w = layout.get(module + ".weight");
                    modules.add(module);
                    tensors.put(
                            AdapterCheckpoint.PREFIX + module + ".lora_A.weight",
                            uniform(m, new Shape(r, w.get(1)), rnd, 1 / Math.sqrt(w.get(1))));
                    tensors.put(
                            AdapterCheckpoint.PREFIX + module + ".lora_B.weight",
                            uniform(m, new Shape(w.get(0), r), rnd, 0.01));
                }
            }
            LoraConfig config =
                    LoraConfig.builder()
                            .optRank(r)
                            .optAlpha(2 * r)
                            .setTargetModules(modules.toArray(new String[0]))
                            .build();
            AdapterCheckpoint.writeFolder(dir, config, tensors);
        }
        return dir;
    }

    private static NDArray uniform(NDManager m, Shape shape, SplittableRandom rnd, double spread) {
        float[] v = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rnd.nextDouble() * 2 - 1) * spread);
        }
        return m.create(v, shape);
    }

    /** Deletes a folder tree. */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Peak resident memory of this process in MiB ({@code VmHWM} of /proc/self/status), or -1. */
    public static double peakRssMiB() throws IOException {
        return statusKiB("VmHWM") / 1024.0;
    }

    /** Current resident memory of this process in KiB ({@code VmRSS}), or -1024. */
    public static long rssKiB() throws IOException {
        return statusKiB("VmRSS");
    }

    /**
     * The command line of a child JVM running {@code main} on this class path with a fixed,
     * pre-touched heap of {@code heap} (e.g. {@code "256m"}), so that the Java heap adds the same to
     * every RSS figure and native memory is what varies.
     */
    public static List<String> childJvm(String heap, Class<?> main, String... args) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd =
                new ArrayList<>(
                        List.of(
                                java,
                                "-Xms" + heap,
                                "-Xmx" + heap,
                                "-XX:+AlwaysPreTouch",
                                "-Dorg.slf4j.simpleLogger.log.ai.djl=error",
                                "-cp",
                                System.getProperty("java.class.path"),
                                main.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Merges {@code dir/ft-0 .. ft-(n-1)} into {@code dir/base} with {@code method}, writing a model
     * folder {@code out}.
     */
    public static void mergeFolders(dev.peft4j.merge.MergeMethod method, Path dir, int n, Path out)
            throws IOException {
        List<dev.peft4j.merge.Candidate> cs = new ArrayList<>();
        try (dev.peft4j.core.io.CheckpointReader base =
                dev.peft4j.core.io.CheckpointReader.open(dir.resolve("base"))) {
            for (int i = 0; i < n; i++) {
                cs.add(dev.peft4j.merge.Candidate.open(dir.resolve("ft-" + i), "ft-" + i, base));
            }
            try (dev.peft4j.merge.ModelFolderOutput o =
                    dev.peft4j.merge.ModelFolderOutput.builder().setDirectory(out).build()) {
                method.merge(base, cs, o);
            }
        } finally {
            for (dev.peft4j.merge.Candidate c : cs) {
                c.close();
            }
        }
    }

    /**
     * Runs {@code main} in a child JVM ({@link #childJvm}) with DJL's network features off and
     * returns what follows {@code RESULT } on its output; fails with the whole output otherwise.
     */
    public static String runChild(String heap, Class<?> main, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(childJvm(heap, main, args));
        pb.redirectErrorStream(true);
        pb.environment().putIfAbsent("OPT_OUT_TRACKING", "true");
        pb.environment().putIfAbsent("DJL_OFFLINE", "true");
        Process p = pb.start();
        String result = null;
        StringBuilder all = new StringBuilder();
        try (java.io.BufferedReader r =
                new java.io.BufferedReader(
                        new java.io.InputStreamReader(
                                p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                all.append(line).append('\n');
                if (line.startsWith("RESULT ")) {
                    result = line.substring(7);
                }
            }
        }
        if (p.waitFor() != 0 || result == null) {
            throw new IllegalStateException("child failed:\n" + all);
        }
        return result;
    }

    private static long statusKiB(String field) throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return -1024;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1024;
    }
}
