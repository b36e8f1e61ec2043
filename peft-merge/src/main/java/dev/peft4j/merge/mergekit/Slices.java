package dev.peft4j.merge.mergekit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.io.Checkpoints;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.merge.mergekit.MergekitConfig.SliceDef;
import dev.peft4j.merge.mergekit.MergekitConfig.SliceSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * mergekit's {@code slices:} (plan.py 238-331): the output model is assembled from layer ranges
 * of the sources, slice after slice, each output tensor merged by the method from the slice's
 * sources (one source with {@code passthrough}: a copy). Output layer {@code j} of a slice at
 * offset {@code i} reads layer {@code start + i} of each source, with {@code t = i / (n - 1)} for
 * gradients. Tensors outside the layers come from the first slice's sources when they are
 * embeddings (a name with {@code embed}, {@code wte}, {@code wpe}: mergekit's "pre weights") and
 * from the last slice's otherwise (final norm, {@code lm_head}: "post weights"); mergekit knows
 * them from its architecture files. config.json's layer count is the output's.
 */
final class Slices {

    private static final Pattern PRE = Pattern.compile("embed|wte|wpe");

    private Slices() {}

    /** One output tensor: the slice it comes from, the offset in it (-1 outside layers), its source key pattern. */
    private record Planned(String key, SliceDef slice, int offset, String template) {}

    static MergeReport run(
            MergekitConfig config,
            MergekitMethod method,
            Path out,
            Mergekit.RunOptions options,
            long start)
            throws IOException {
        List<SliceDef> slices = config.slices();
        for (int i = 0; i < slices.size(); i++) {
            SliceDef s = slices.get(i);
            for (SliceSource src : s.sources()) {
                if (src.end() - src.start() != s.length()) {
                    throw new IllegalArgumentException(
                            config.source()
                                    + ": slices["
                                    + i
                                    + "]: every source must give the same number of layers");
                }
            }
            if (method.needsBase() && base(config, s) == null) {
                throw new IllegalArgumentException(
                        config.source()
                                + ": slices["
                                + i
                                + "]: merge_method "
                                + method.peftName
                                + " needs a base_model");
            }
        }
        Map<Path, TensorSource> readers = new LinkedHashMap<>();
        try {
            for (SliceDef s : slices) {
                for (SliceSource src : s.sources()) {
                    if (!readers.containsKey(src.model())) {
                        readers.put(src.model(), Checkpoints.open(src.model()));
                    }
                }
            }
            SliceSource first = slices.get(0).sources().get(0);
            TensorSource firstReader = readers.get(first.model());
            List<Planned> plan = plan(config, slices, first, firstReader);
            Path reference = config.baseModel() != null ? config.baseModel() : first.model();
            int total = slices.stream().mapToInt(SliceDef::length).sum();
            ModelFolderOutput.Builder b = Mergekit.output(config, out, reference, options);
            Path cfg = reference.resolve("config.json");
            if (Files.isRegularFile(cfg)) {
                b.optExtraFile("config.json", outputConfig(cfg, total));
            }
            try (ModelFolderOutput output = b.build();
                    NDManager root = NDManager.newBaseManager(options.device())) {
                options.listener()
                        .passStarted(
                                "assembling "
                                        + total
                                        + " layers from "
                                        + slices.size()
                                        + " slices ("
                                        + method.peftName
                                        + ")",
                                plan.size());
                for (int i = 0; i < plan.size(); i++) {
                    Planned p = plan.get(i);
                    try (NDManager scope = root.newSubManager()) {
                        write(config, method, p, readers, output, options.seed(), scope);
                    }
                    options.listener().tensorDone(p.key(), i, plan.size());
                }
                output.commit();
                return new MergeReport(
                        method.peftName,
                        new LinkedHashMap<>(),
                        readers.keySet().stream().map(x -> x.getFileName().toString()).toList(),
                        plan.size(),
                        plan.size(),
                        (System.nanoTime() - start) / 1e9,
                        output.describe(),
                        output.bytes(),
                        new LinkedHashMap<>(),
                        List.of());
            }
        } finally {
            for (TensorSource r : readers.values()) {
                r.close();
            }
        }
    }

    private static Path base(MergekitConfig config, SliceDef s) {
        return s.baseModel() != null ? s.baseModel() : config.baseModel();
    }

    /** The output tensors in order: pre weights, the layers slice by slice, post weights. */
    private static List<Planned> plan(
            MergekitConfig config, List<SliceDef> slices, SliceSource first, TensorSource reader) {
        List<String> pre = new ArrayList<>();
        List<String> post = new ArrayList<>();
        List<String> templates = new ArrayList<>();
        for (String key : reader.keys()) {
            Matcher m = Mergekit.LAYER.matcher(key);
            if (!m.find()) {
                (PRE.matcher(key).find() ? pre : post).add(key);
            } else if (Integer.parseInt(m.group(1)) == first.start()) {
                templates.add(key.substring(0, m.start(1)) + "{L}" + key.substring(m.end(1)));
            }
        }
        if (templates.isEmpty()) {
            throw new IllegalArgumentException(
                    config.source()
                            + ": "
                            + first.model()
                            + " has no tensors of layer "
                            + first.start());
        }
        List<Planned> plan = new ArrayList<>();
        pre.forEach(k -> plan.add(new Planned(k, slices.get(0), -1, k)));
        int layer = 0;
        for (SliceDef s : slices) {
            for (int i = 0; i < s.length(); i++, layer++) {
                for (String t : templates) {
                    plan.add(new Planned(t.replace("{L}", String.valueOf(layer)), s, i, t));
                }
            }
        }
        post.forEach(k -> plan.add(new Planned(k, slices.get(slices.size() - 1), -1, k)));
        return plan;
    }

    private static void write(
            MergekitConfig config,
            MergekitMethod method,
            Planned p,
            Map<Path, TensorSource> readers,
            ModelFolderOutput output,
            long seed,
            NDManager scope)
            throws IOException {
        SliceDef slice = p.slice();
        Path base = base(config, slice);
        List<Mergekit.InputSpec> specs = new ArrayList<>();
        TensorInfo info = null;
        for (SliceSource src : slice.sources()) {
            String key = specKey(p, src);
            TensorSource r = readers.get(src.model());
            TensorInfo ti = r.info(key); // names the model and tensor when missing
            info = info == null ? ti : info;
            specs.add(
                    new Mergekit.InputSpec(
                            src.model().getFileName() + ":" + key,
                            src.model().equals(base),
                            List.of(src.parameters(), slice.parameters(), config.parameters()),
                            sc -> r.load(key, sc, DataType.FLOAT32)));
        }
        if (!info.dtype().isFloating()) {
            NDArray raw =
                    readers.get(slice.sources().get(0).model())
                            .load(specKey(p, slice.sources().get(0)), scope);
            output.write(p.key(), raw, Delta.zero(), raw.getDataType());
            return;
        }
        int n = slice.length();
        double t = p.offset() < 0 ? 0 : n > 1 ? p.offset() / (double) (n - 1) : 1;
        NDArray merged =
                Mergekit.mergeOne(
                        config,
                        method,
                        p.key(),
                        t,
                        List.of(slice.parameters(), config.parameters()),
                        specs,
                        info.shape(),
                        seed,
                        scope);
        output.write(p.key(), merged, Delta.zero(), info.dtype());
    }

    private static String specKey(Planned p, SliceSource src) {
        return p.offset() < 0
                ? p.template()
                : p.template().replace("{L}", String.valueOf(src.start() + p.offset()));
    }

    /** The reference's config.json with the output's layer count (the output sets its dtype). */
    private static byte[] outputConfig(Path cfg, int layers) throws IOException {
        JsonObject o = JsonParser.parseString(Files.readString(cfg)).getAsJsonObject();
        boolean set = false;
        for (String k : Mergekit.LAYER_COUNT_KEYS) {
            if (o.has(k)) {
                o.addProperty(k, layers);
                set = true;
            }
        }
        if (!set) {
            o.addProperty("num_hidden_layers", layers);
        }
        return (new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(o)
                        + "\n")
                .getBytes(StandardCharsets.UTF_8);
    }
}
