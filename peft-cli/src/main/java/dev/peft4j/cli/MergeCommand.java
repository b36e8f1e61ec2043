package dev.peft4j.cli;

import ai.djl.Device;
import dev.peft4j.core.io.Checkpoints;
import dev.peft4j.core.io.ShardedCheckpointWriter;
import dev.peft4j.core.io.TensorSource;
import dev.peft4j.merge.AdapterFolderOutput;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeListener;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.MergeMethods;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.merge.TensorLoop;
import dev.peft4j.merge.mergekit.Mergekit;
import dev.peft4j.merge.mergekit.MergekitConfig;
import dev.peft4j.merge.opcm.Opcm;
import dev.peft4j.merge.opcm.OpcmMerger;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code peft merge}: merges fine-tuned models or adapters into a base, tensor by tensor, as
 * described by a config file ({@link MergeConfig}) and flags that override it.
 */
@Command(
        name = "merge",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Merge fine-tuned models or adapters into a base model, streaming tensor by tensor.",
            "Methods: task_arithmetic (lambda), average, ties (k, lambda), opcm (alpha).",
            "A mergekit YAML file (merge_method: ...) runs as mergekit-yaml: peft merge config.yml"
                    + " OUT."
        })
public final class MergeCommand implements Callable<Integer> {

    @Option(
            names = {"-c", "--config"},
            paramLabel = "FILE",
            description = "YAML or JSON merge description")
    Path config;

    @Option(
            names = "--base",
            paramLabel = "DIR",
            description = "Base model folder (Hugging Face safetensors)")
    Path base;

    @Option(
            names = "--candidate",
            paramLabel = "DIR[=NAME]",
            description = "A model or adapter folder to merge (repeat; replaces the config's list)")
    List<String> candidates;

    @Option(names = "--method", description = "task_arithmetic, average, ties or opcm")
    String method;

    @Option(
            names = "--lambda",
            description = "Scaling of the merged task vector (task_arithmetic, ties)")
    Double lambda;

    @Option(names = "--k", description = "Fraction of magnitudes TIES keeps per tensor")
    Double k;

    @Option(names = "--alpha", description = "OPCM's split threshold on the singular value mass")
    Double alpha;

    @Option(
            names = "--merge-func",
            description = "TIES: how agreeing entries combine: mean (default), sum, max")
    String mergeFunc;

    @Option(names = "--consensus", description = "TIES: sign election by sum (default) or count")
    String consensus;

    @Option(
            names = "--projection",
            description = "OPCM: thin (default) or full (FusionBench's full-SVD projection)")
    String projection;

    @Option(
            names = "--shuffle",
            paramLabel = "SEED",
            description =
                    "OPCM: shuffle the arrival order as FusionBench's shuffle_order with this seed")
    Long shuffle;

    @Option(
            names = "--projected",
            paramLabel = "REGEX",
            description =
                    "OPCM: the tensors to project (default: the base's Linear weights by"
                            + " model_type)")
    String projected;

    @Option(
            names = {"-o", "--output"},
            paramLabel = "DIR",
            description = "Output folder")
    Path output;

    @Option(
            names = "--format",
            description = "model (sharded safetensors) or adapter (LoRA folder)")
    String format;

    @Option(
            names = "--rank",
            description = "Adapter output: truncate each module to this rank (default: exact)")
    Integer rank;

    @Option(
            names = "--max-shard-size",
            paramLabel = "SIZE",
            description = "Shard size limit, e.g. 5GB, 500MB")
    String maxShardSize;

    @Option(
            names = "--dtype",
            description = "Stored dtype: float32, float16, bfloat16 (default: the base's)")
    String dtype;

    @Option(
            names = "--emit-each",
            description = "OPCM: write OUTPUT/step-1, step-2, ... after each model")
    Boolean emitEach;

    @Option(names = "--device", description = "cpu, gpu or gpu:N (default: the engine's default)")
    String device;

    @Option(
            names = "--work-dir",
            paramLabel = "DIR",
            description = "Where large OPCM state is kept")
    Path workDir;

    @Option(
            names = {"-q", "--quiet"},
            description = "No progress lines, only the summary")
    boolean quiet;

    @Option(
            names = "--seed",
            description =
                    "Seed of the random masks of mergekit's dare_* and della* methods (default 0)")
    long seed;

    @Spec CommandSpec spec;

    /** The options that apply to a mergekit config (the rest belong to our own merge format). */
    private static final Set<String> MERGEKIT_OPTIONS =
            Set.of("--config", "--output", "--seed", "--device", "--quiet", "--max-shard-size");

    @Parameters(
            arity = "0..2",
            paramLabel = "CONFIG OUTPUT",
            description = "mergekit-yaml's form: a config file and the output folder")
    List<Path> positional;

    @Override
    public Integer call() throws Exception {
        if (positional != null && !positional.isEmpty()) {
            if (config != null || positional.size() != 2) {
                throw new IllegalArgumentException(
                        "give either CONFIG OUTPUT (mergekit-yaml's form) or -c CONFIG -o OUTPUT");
            }
            config = positional.get(0);
            output = positional.get(1);
        }
        if (config != null && MergekitConfig.isMergekit(MergekitConfig.readDocument(config))) {
            return mergekit();
        }
        MergeConfig c = resolve();
        MergeMethod m = MergeMethods.create(c.method, c.options, c.base, perCandidate(c));
        if (c.emitEach && !(m instanceof Opcm)) {
            throw new IllegalArgumentException(
                    "--emit-each is for the continual method opcm, not " + m.name());
        }
        MergeContext context =
                MergeContext.builder()
                        .optListener(quiet ? MergeListener.NONE : new Progress(System.err))
                        .optWorkDirectory(c.workDir)
                        .optDevice(c.device == null ? null : Device.fromName(c.device))
                        .build();
        List<Candidate> opened = new ArrayList<>();
        try (TensorSource baseModel = Checkpoints.open(c.base)) {
            for (MergeConfig.CandidateSpec spec : c.candidates) {
                String name =
                        spec.name() == null ? Candidate.defaultName(spec.path()) : spec.name();
                opened.add(Candidate.open(spec.path(), name, baseModel));
            }
            MergeReport report =
                    c.emitEach
                            ? mergeEmittingEach((Opcm) m, baseModel, opened, c, context)
                            : mergeOnce(m, baseModel, opened, c, context);
            report.summaryLines().forEach(System.out::println);
        } finally {
            for (Candidate cand : opened) {
                cand.close();
            }
        }
        return 0;
    }

    /**
     * A mergekit config: run as mergekit-yaml runs it; flags of our own config format are refused
     * (the YAML says it all), the output folder is required.
     */
    private int mergekit() throws IOException {
        // every option of our own merge format given on the command line
        List<String> ours =
                spec.commandLine().getParseResult().matchedOptions().stream()
                        .map(OptionSpec::longestName)
                        .filter(n -> !MERGEKIT_OPTIONS.contains(n))
                        .toList();
        require(
                ours.isEmpty(),
                config + " is a mergekit config: " + ours + " do not apply (set them in the YAML)");
        require(output != null, config + ": no output folder (-o OUTPUT, or CONFIG OUTPUT)");
        MergekitConfig c = MergekitConfig.read(config);
        long shard =
                maxShardSize == null
                        ? ShardedCheckpointWriter.DEFAULT_MAX_SHARD_BYTES
                        : MergeConfig.size(maxShardSize, "--max-shard-size");
        MergeReport report =
                Mergekit.run(
                        c,
                        output,
                        new Mergekit.RunOptions(
                                seed,
                                device == null ? null : Device.fromName(device),
                                quiet ? MergeListener.NONE : new Progress(System.err),
                                shard));
        report.summaryLines().forEach(System.out::println);
        return 0;
    }

    /** Per-candidate weight and density by candidate name, for TIES. */
    private static Map<String, Map<String, Double>> perCandidate(MergeConfig c) {
        Map<String, Map<String, Double>> out = new java.util.LinkedHashMap<>();
        for (MergeConfig.CandidateSpec spec : c.candidates) {
            String name = spec.name() == null ? Candidate.defaultName(spec.path()) : spec.name();
            Map<String, Double> o = new java.util.LinkedHashMap<>();
            if (spec.weight() != null) {
                o.put("weight", spec.weight());
            }
            if (spec.density() != null) {
                o.put("density", spec.density());
            }
            if (!o.isEmpty()) {
                out.put(name, o);
            }
        }
        return out;
    }

    /** The config file (if any) with the flags applied, checked for completeness. */
    MergeConfig resolve() throws IOException {
        MergeConfig c = config == null ? new MergeConfig() : MergeConfig.read(config);
        String src = config == null ? "command line" : config.toString();
        if (base != null) {
            c.base = base;
        }
        if (candidates != null) {
            c.candidates = candidates.stream().map(MergeConfig::candidate).toList();
        }
        if (method != null) {
            c.method = method;
        }
        putOption(c.options, "lambda", lambda);
        putOption(c.options, "k", k);
        putOption(c.options, "alpha", alpha);
        putOption(c.options, "merge_func", mergeFunc);
        putOption(c.options, "consensus", consensus);
        putOption(c.options, "projection", projection);
        putOption(c.options, "shuffle", shuffle);
        putOption(c.options, "projected", projected);
        if (output != null) {
            c.output = output;
        }
        if (format != null) {
            c.format = MergeConfig.format(format, "--format");
        }
        if (rank != null) {
            c.rank = rank;
        }
        if (maxShardSize != null) {
            c.maxShardBytes = MergeConfig.size(maxShardSize, "--max-shard-size");
        }
        if (dtype != null) {
            c.dtype = MergeConfig.dtype(dtype, "--dtype");
        }
        if (emitEach != null) {
            c.emitEach = emitEach;
        }
        if (device != null) {
            c.device = device;
        }
        if (workDir != null) {
            c.workDir = workDir;
        }
        require(c.base != null, src + ": no base model (base: in the config or --base)");
        require(
                !c.candidates.isEmpty(),
                src + ": no candidates (candidates: in the config or --candidate)");
        require(
                c.method != null,
                src
                        + ": no method (method: in the config or --method); known: "
                        + MergeMethods.NAMES);
        require(c.output != null, src + ": no output folder (output: in the config or --output)");
        require(
                c.rank == null || c.format.equals("adapter"),
                src + ": rank applies to the adapter output format only");
        return c;
    }

    private static void putOption(Map<String, Object> options, String key, Object value) {
        if (value != null) {
            options.put(key, value);
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    private static MergeOutput open(Path dir, MergeConfig c, List<Candidate> cs)
            throws IOException {
        if (c.format.equals("adapter")) {
            AdapterFolderOutput.Builder b =
                    AdapterFolderOutput.builder()
                            .setDirectory(dir)
                            .optBaseModel(c.base.toString())
                            .optModuleNamesFrom(cs);
            if (c.rank != null) {
                b.optRank(c.rank);
            }
            return b.build();
        }
        return ModelFolderOutput.builder()
                .setDirectory(dir)
                .optMaxShardBytes(c.maxShardBytes)
                .optCopyFilesFrom(c.base)
                .optDtype(c.dtype)
                .build();
    }

    private static MergeReport mergeOnce(
            MergeMethod m,
            TensorSource base,
            List<Candidate> cs,
            MergeConfig c,
            MergeContext context)
            throws IOException {
        try (MergeOutput out = open(c.output, c, cs)) {
            return m.merge(base, cs, out, context);
        }
    }

    /** OPCM writing {@code output/step-i} after each arrival. */
    private static MergeReport mergeEmittingEach(
            Opcm m, TensorSource base, List<Candidate> cs, MergeConfig c, MergeContext context)
            throws IOException {
        long start = System.nanoTime();
        Files.createDirectories(c.output);
        TensorLoop.validate(base, cs); // every candidate before any work
        List<Candidate> order = m.arrivalOrder(cs);
        try (OpcmMerger merger = m.start(base, context)) {
            int changed = 0;
            MergeOutput last = null;
            for (int i = 0; i < order.size(); i++) {
                merger.add(order.get(i));
                try (MergeOutput out = open(c.output.resolve("step-" + (i + 1)), c, cs)) {
                    changed = merger.write(out);
                    last = out;
                }
            }
            return merger.report((System.nanoTime() - start) / 1e9, changed, last);
        }
    }

    /** Progress lines on stderr: one per pass, per tensor and per model. */
    static final class Progress implements MergeListener {
        private final PrintStream err;

        Progress(PrintStream err) {
            this.err = err;
        }

        @Override
        public void passStarted(String what, int tensorCount) {
            err.println(what + " (" + tensorCount + " tensors)");
        }

        @Override
        public void tensorDone(String key, int index, int count) {
            err.println("  [" + (index + 1) + "/" + count + "] " + key);
        }

        @Override
        public void note(String line) {
            err.println(line);
        }
    }
}
