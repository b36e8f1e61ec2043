package dev.peft4j.cli;

import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.AdapterMethod;
import dev.peft4j.core.AdapterMethods;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.io.TensorInfo;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code peft inspect}: what an adapter folder holds, without loading a model. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description =
                "Show an adapter folder's method, config, per-module tensor shapes and parameter"
                        + " count.")
public final class InspectCommand implements Callable<Integer> {

    @Parameters(
            index = "0",
            paramLabel = "ADAPTER_DIR",
            description = "Folder with adapter_config.json and adapter_model.safetensors")
    Path dir;

    @Option(names = "--json", description = "Print one JSON object instead of text")
    boolean json;

    /** One module's tensors, or the full tensors of modules saved whole. */
    record Summary(
            AdapterConfig config,
            Map<String, Map<String, TensorInfo>> modules,
            Map<String, TensorInfo> fullTensors,
            long parameters,
            long fileBytes) {}

    @Override
    public Integer call() throws Exception {
        Summary s = summarize(dir);
        PrintStream out = System.out;
        if (json) {
            out.println(JsonIO.toSortedJson(toJson(s)));
        } else {
            print(s, out);
        }
        return 0;
    }

    /** Reads the folder's config and the safetensors header. */
    static Summary summarize(Path dir) throws Exception {
        AdapterConfig config = AdapterCheckpoint.readConfig(dir);
        AdapterMethod method = AdapterMethods.forType(config.peftType(), dir.toString());
        Path weights = dir.resolve(AdapterCheckpoint.WEIGHTS_FILE);
        Map<String, Map<String, TensorInfo>> modules = new LinkedHashMap<>();
        Map<String, TensorInfo> full = new LinkedHashMap<>();
        long params = 0;
        try (SafetensorsReader reader = SafetensorsReader.open(weights)) {
            for (String key : reader.keys()) {
                TensorInfo info = reader.info(key);
                params += info.elementCount();
                String rel =
                        key.startsWith(AdapterCheckpoint.PREFIX)
                                ? key.substring(AdapterCheckpoint.PREFIX.length())
                                : key;
                AdapterCheckpoint.ModuleTensor split =
                        AdapterCheckpoint.splitKey(rel, method.tensorPrefix());
                if (split == null) {
                    full.put(rel, info);
                } else {
                    modules.computeIfAbsent(split.module(), k -> new LinkedHashMap<>())
                            .put(split.tensor(), info);
                }
            }
        }
        for (Map.Entry<String, Map<String, TensorInfo>> m : modules.entrySet()) {
            Map<String, Shape> shapes = new LinkedHashMap<>();
            m.getValue().forEach((t, info) -> shapes.put(t, info.shape()));
            config.checkSavedShapes(m.getKey(), shapes, dir.toString());
        }
        return new Summary(config, modules, full, params, Files.size(weights));
    }

    private static void print(Summary s, PrintStream out) {
        out.println("method:     " + s.config().peftType());
        out.println("targets:    " + s.config().targetModules());
        out.println(
                "parameters: "
                        + String.format(Locale.ROOT, "%,d", s.parameters())
                        + " trainable ("
                        + String.format(Locale.ROOT, "%,d", s.fileBytes())
                        + " bytes on disk)");
        out.println("config:");
        for (String line : JsonIO.toSortedJson(s.config().toJson()).split("\n")) {
            out.println("  " + line);
        }
        out.println("modules (" + s.modules().size() + "):");
        s.modules()
                .forEach(
                        (path, tensors) -> {
                            StringBuilder sb = new StringBuilder("  ").append(path);
                            tensors.forEach(
                                    (name, info) ->
                                            sb.append("  ")
                                                    .append(name)
                                                    .append(' ')
                                                    .append(shape(info)));
                            out.println(sb);
                        });
        if (!s.fullTensors().isEmpty()) {
            out.println("saved in full (modules_to_save):");
            s.fullTensors().forEach((name, info) -> out.println("  " + name + " " + shape(info)));
        }
    }

    private static String shape(TensorInfo info) {
        return info.shape().toString().replace('(', '[').replace(')', ']') + " " + info.dtype();
    }

    private static JsonObject toJson(Summary s) {
        JsonObject o = new JsonObject();
        o.addProperty("peft_type", s.config().peftType());
        o.add("config", s.config().toJson());
        o.addProperty("parameters", s.parameters());
        o.addProperty("file_bytes", s.fileBytes());
        JsonObject mods = new JsonObject();
        s.modules()
                .forEach(
                        (path, tensors) -> {
                            JsonObject t = new JsonObject();
                            tensors.forEach((name, info) -> t.add(name, dims(info)));
                            mods.add(path, t);
                        });
        o.add("modules", mods);
        JsonObject full = new JsonObject();
        s.fullTensors().forEach((name, info) -> full.add(name, dims(info)));
        o.add("modules_to_save", full);
        return o;
    }

    private static JsonArray dims(TensorInfo info) {
        JsonArray a = new JsonArray();
        for (long d : info.shape().getShape()) {
            a.add(d);
        }
        return a;
    }

    /** For tests: the modules of a summary in order. */
    static List<String> modulePaths(Summary s) {
        return List.copyOf(s.modules().keySet());
    }
}
