package dev.peft4j.cli;

import ai.djl.ndarray.types.DataType;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * A merge described in one file (YAML, or JSON which is YAML too). Relative paths are resolved
 * against the file's folder. Every key is checked; unknown keys are errors naming the file.
 *
 * <pre>
 * base: models/all-MiniLM-L6-v2          # Hugging Face model folder
 * candidates:                            # model or adapter folders, in arrival order
 *   - path: adapters/sst2
 *     name: sst2                         # optional, default: the folder name
 *     weight: 1.0                        # ties: per-candidate weight and kept fraction
 *     density: 0.3
 *   - adapters/mrpc
 * method: ties                           # task_arithmetic | average | ties | opcm
 * options: {k: 0.2, lambda: 1.0}         # the method's options
 * output:
 *   path: merged/ties
 *   format: model                        # model (sharded safetensors) | adapter (LoRA folder)
 *   max_shard_size: 5GB
 *   dtype: bf16                          # default: the base's
 *   rank: 16                             # adapter format: truncate each module to this rank
 * emit_each: false                       # opcm: write output/step-1, step-2, ... after each model
 * device: cpu                            # cpu, gpu, gpu:1
 * work_dir: /tmp                         # where large OPCM state goes
 * </pre>
 */
final class MergeConfig {

    private static final Set<String> TOP =
            Set.of(
                    "base",
                    "candidates",
                    "method",
                    "options",
                    "output",
                    "emit_each",
                    "device",
                    "work_dir");
    private static final Set<String> OUTPUT =
            Set.of("path", "format", "max_shard_size", "dtype", "rank");
    private static final Set<String> CANDIDATE = Set.of("path", "name", "weight", "density");
    private static final Pattern SIZE =
            Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([kmgt]i?b?|b)?\\s*");

    /** One candidate folder and its name (null: the folder name). */
    record CandidateSpec(Path path, String name, Double weight, Double density) {
        CandidateSpec(Path path, String name) {
            this(path, name, null, null);
        }
    }

    Path base;
    List<CandidateSpec> candidates = new ArrayList<>();
    String method;
    Map<String, Object> options = new LinkedHashMap<>();
    Path output;
    String format = "model";
    long maxShardBytes = ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES;
    DataType dtype;
    Integer rank;
    boolean emitEach;
    String device;
    Path workDir;

    /** Reads a config file. */
    static MergeConfig read(Path file) throws IOException {
        Object root;
        try (Reader r = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (YAMLException e) {
            throw new IllegalArgumentException(
                    file + ": not valid YAML or JSON: " + firstLine(e.getMessage()));
        }
        MergeConfig c = new MergeConfig();
        c.fill(map(root, file + ""), file.toAbsolutePath().getParent(), file.toString());
        return c;
    }

    private void fill(Map<String, Object> m, Path dir, String src) {
        checkKeys(m, TOP, src);
        base = path(m.get("base"), dir, src + ": base");
        Object list = m.get("candidates");
        if (list != null) {
            if (!(list instanceof List<?> items)) {
                throw new IllegalArgumentException(
                        src + ": 'candidates' must be a list of folders");
            }
            for (Object item : items) {
                candidates.add(candidate(item, dir, src));
            }
        }
        method = string(m.get("method"), src + ": method");
        Object opts = m.get("options");
        if (opts != null) {
            map(opts, src + ": options")
                    .forEach(
                            (k, v) ->
                                    options.put(
                                            k,
                                            v instanceof String || v instanceof Boolean
                                                    ? v
                                                    : number(v, src + ": options." + k)));
        }
        Object out = m.get("output");
        if (out instanceof String || out == null) {
            output = path(out, dir, src + ": output");
        } else {
            Map<String, Object> o = map(out, src + ": output");
            checkKeys(o, OUTPUT, src + ": output");
            output = path(o.get("path"), dir, src + ": output.path");
            // a key with no value (format:) counts as absent, as in the rest of the file
            format =
                    o.get("format") != null
                            ? format(string(o.get("format"), src + ": output.format"), src)
                            : format;
            if (o.get("max_shard_size") != null) {
                maxShardBytes =
                        size(
                                String.valueOf(o.get("max_shard_size")),
                                src + ": output.max_shard_size");
            }
            dtype =
                    o.get("dtype") != null
                            ? dtype(string(o.get("dtype"), src), src + ": output.dtype")
                            : null;
            rank =
                    o.get("rank") != null
                            ? (int) number(o.get("rank"), src + ": output.rank")
                            : null;
        }
        if (m.get("emit_each") != null) {
            if (!(m.get("emit_each") instanceof Boolean b)) {
                throw new IllegalArgumentException(
                        src + ": emit_each must be true or false, got " + m.get("emit_each"));
            }
            emitEach = b;
        }
        device = string(m.get("device"), src + ": device");
        workDir = path(m.get("work_dir"), dir, src + ": work_dir");
    }

    private static CandidateSpec candidate(Object item, Path dir, String src) {
        if (item instanceof String s) {
            return new CandidateSpec(path(s, dir, src), null);
        }
        Map<String, Object> c = map(item, src + ": candidates");
        checkKeys(c, CANDIDATE, src + ": candidate");
        Path p = path(c.get("path"), dir, src + ": candidate path");
        if (p == null) {
            throw new IllegalArgumentException(src + ": a candidate has no 'path'");
        }
        return new CandidateSpec(
                p,
                string(c.get("name"), src + ": candidate name"),
                c.get("weight") == null
                        ? null
                        : number(c.get("weight"), src + ": candidate weight"),
                c.get("density") == null
                        ? null
                        : number(c.get("density"), src + ": candidate density"));
    }

    /** Parses {@code PATH} or {@code PATH=NAME} from the command line. */
    static CandidateSpec candidate(String arg) {
        int eq = arg.lastIndexOf('=');
        return eq > 0
                ? new CandidateSpec(Path.of(arg.substring(0, eq)), arg.substring(eq + 1))
                : new CandidateSpec(Path.of(arg), null);
    }

    static String format(String f, String src) {
        String v = f.toLowerCase(Locale.ROOT);
        if (!v.equals("model") && !v.equals("adapter")) {
            throw new IllegalArgumentException(
                    src + ": output format must be 'model' or 'adapter', got '" + f + "'");
        }
        return v;
    }

    /** {@code 5GB}, {@code 500MB}, {@code 2GiB}, {@code 1000000} in bytes (decimal units as Hugging Face; i: binary). */
    static long size(String s, String src) {
        Matcher m = SIZE.matcher(s);
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    src + ": size must look like 5GB, 500MB or 2GiB, got '" + s + "'");
        }
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        int power = "bkmgt".indexOf(unit.charAt(0));
        double base = unit.contains("i") ? 1024 : 1000;
        long bytes = (long) (Double.parseDouble(m.group(1)) * Math.pow(base, power));
        if (bytes < 1) {
            throw new IllegalArgumentException(src + ": size must be positive, got '" + s + "'");
        }
        return bytes;
    }

    static DataType dtype(String s, String src) {
        switch (s.toLowerCase(Locale.ROOT)) {
            case "f32":
            case "fp32":
            case "float32":
                return DataType.FLOAT32;
            case "f16":
            case "fp16":
            case "float16":
                return DataType.FLOAT16;
            case "bf16":
            case "bfloat16":
                return DataType.BFLOAT16;
            default:
                throw new IllegalArgumentException(
                        src + ": dtype must be float32, float16 or bfloat16, got '" + s + "'");
        }
    }

    private static void checkKeys(Map<String, Object> m, Set<String> known, String src) {
        for (String k : m.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException(
                        src + ": unknown key '" + k + "'; known keys: " + new TreeSet<>(known));
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o, String src) {
        if (!(o instanceof Map)) {
            throw new IllegalArgumentException(
                    src + ": expected a mapping of keys to values, got " + o);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        ((Map<Object, Object>) o).forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    private static Path path(Object o, Path dir, String src) {
        if (o == null) {
            return null;
        }
        Path p = Path.of(string(o, src));
        return p.isAbsolute() || dir == null ? p : dir.resolve(p);
    }

    private static String string(Object o, String src) {
        if (o == null) {
            return null;
        }
        if (o instanceof Map || o instanceof List) {
            throw new IllegalArgumentException(src + " must be a single value, got " + o);
        }
        return String.valueOf(o);
    }

    private static double number(Object o, String src) {
        if (o instanceof Number n) {
            return n.doubleValue();
        }
        throw new IllegalArgumentException(src + " must be a number, got " + o);
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}
