package dev.peft4j.merge;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.linalg.SvdResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Writes a merge of LoRA adapters as a new PEFT LoRA adapter folder, without ever forming a full
 * weight: each changed tensor must be low-rank ({@code s B A}). Exact mode keeps the factors as
 * they are (task arithmetic's concatenation {@code A' = [l_1 s_1 A_1; ...]}, {@code B' = [B_1, ...]},
 * rank the sum of ranks); truncated mode keeps the top {@code rank} singular triplets of each
 * change ({@code B = U_r sqrt(S_r)}, {@code A = sqrt(S_r) V_r^T}, through {@link FactoredSvd}), the
 * best rank-r approximation in Frobenius norm. Scalings are folded into the factors: every module
 * gets {@code lora_alpha = r}, so {@code s = 1}; modules of another rank than the most common one
 * go to {@code rank_pattern} / {@code alpha_pattern}. A dense change (a full fine-tune, a TIES
 * merge, {@code modules_to_save}) cannot be written as an adapter and is an error naming the tensor.
 */
public final class AdapterFolderOutput implements MergeOutput {

    private final Path dir;
    private final Integer rank;
    private final String baseModel;
    private final Function<String, String> moduleOf;
    private final NDManager manager = NDManager.newBaseManager();
    private final Map<String, NDArray[]> modules = new LinkedHashMap<>();
    private long bytes;

    private AdapterFolderOutput(
            Path dir, Integer rank, String baseModel, Function<String, String> moduleOf) {
        this.dir = dir;
        this.rank = rank;
        this.baseModel = baseModel;
        this.moduleOf = moduleOf;
    }

    /** A builder: {@code setDirectory} is required. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public void write(String key, NDArray theta0, Delta delta, DataType stored) {
        if (delta.isZero()) {
            return;
        }
        if (!(delta instanceof Delta.LowRank lr) || !key.endsWith(".weight")) {
            throw new IllegalArgumentException(
                    "tensor '"
                            + key
                            + "' has a dense change (a full fine-tune, modules_to_save, a TIES"
                            + " merge, or a merge whose rank reached the matrix size); an adapter"
                            + " output holds LoRA factors only: write a model folder instead");
        }
        NDArray[] ba = rank == null || rank >= lr.rank() ? exact(lr) : truncated(lr, rank);
        for (NDArray a : ba) {
            a.attach(manager);
            bytes += a.size() * 4;
        }
        modules.put(moduleOf.apply(key), ba);
    }

    private static NDArray[] exact(Delta.LowRank lr) {
        NDArray b = lr.b().duplicate();
        return new NDArray[] {b, lr.a().mul(lr.scale())};
    }

    private NDArray[] truncated(Delta.LowRank lr, int r) {
        try (NDManager scope = lr.b().getManager().newSubManager()) {
            SvdResult svd = FactoredSvd.svd(lr.b().mul(lr.scale()), lr.a().transpose(), scope);
            NDArray root = svd.s().get(new NDIndex(":{}", r)).sqrt();
            NDArray b = svd.u().get(new NDIndex(":, :{}", r)).mul(root);
            NDArray a = svd.v().get(new NDIndex(":, :{}", r)).mul(root).transpose();
            b.attach(lr.b().getManager());
            a.attach(lr.b().getManager());
            return new NDArray[] {b, a};
        }
    }

    /** Writes {@code adapter_config.json} and {@code adapter_model.safetensors} atomically. */
    @Override
    public void commit() throws IOException {
        if (modules.isEmpty()) {
            throw new IllegalStateException(
                    "The merge changed no tensor: there is no adapter to write to " + dir);
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        modules.forEach((m, ba) -> ranks.put(m, (int) ba[0].getShape().get(1)));
        int common =
                ranks.values().stream()
                        .collect(
                                Collectors.groupingBy(
                                        Function.identity(), TreeMap::new, Collectors.counting()))
                        .entrySet()
                        .stream()
                        .max(
                                Map.Entry.<Integer, Long>comparingByValue()
                                        .thenComparing(
                                                Map.Entry.comparingByKey(
                                                        Comparator.reverseOrder())))
                        .orElseThrow()
                        .getKey();
        Map<String, Integer> pattern = new LinkedHashMap<>();
        ranks.forEach(
                (m, r) -> {
                    if (r != common) {
                        pattern.put(m, r);
                    }
                });
        LoraConfig.Builder b =
                LoraConfig.builder()
                        .optRank(common)
                        .optAlpha(common)
                        .optRankPattern(pattern)
                        .optAlphaPattern(pattern)
                        .setTargetModules(modules.keySet().toArray(new String[0]));
        if (baseModel != null) {
            b.optBaseModelNameOrPath(baseModel);
        }
        LoraConfig config = b.build();
        LinkedHashMap<String, NDArray> tensors = new LinkedHashMap<>();
        modules.forEach(
                (m, ba) -> {
                    tensors.put(AdapterCheckpoint.PREFIX + m + ".lora_A.weight", ba[1]);
                    tensors.put(AdapterCheckpoint.PREFIX + m + ".lora_B.weight", ba[0]);
                });
        AdapterCheckpoint.writeFolder(dir, config, tensors);
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public String describe() {
        return "LoRA adapter folder "
                + dir
                + (rank == null ? " (exact factors)" : " (rank " + rank + ")");
    }

    /** Frees the collected factors. */
    @Override
    public void close() {
        manager.close();
    }

    /** Builds (opens) an {@link AdapterFolderOutput}. */
    public static final class Builder {
        private Path dir;
        private Integer rank;
        private String baseModel;
        private List<? extends Candidate> namesFrom = List.of();

        private Builder() {}

        /** The folder to publish (required). */
        public Builder setDirectory(Path dir) {
            this.dir = dir;
            return this;
        }

        /** The rank to truncate each module's merged change to (by SVD); by default the exact factors. */
        public Builder optRank(int rank) {
            this.rank = rank;
            return this;
        }

        /** The {@code base_model_name_or_path} to record; none by default. */
        public Builder optBaseModel(String baseModel) {
            this.baseModel = baseModel;
            return this;
        }

        /**
         * Module paths from these adapter candidates (an adapter saved for {@code
         * encoder.layer.0...} merged into a base named {@code bert.encoder.layer.0...} keeps its own
         * names); tensors no adapter names get their base name minus {@code .weight}.
         */
        public Builder optModuleNamesFrom(List<? extends Candidate> candidates) {
            this.namesFrom = List.copyOf(candidates);
            return this;
        }

        /** Starts the output. */
        public AdapterFolderOutput build() {
            if (dir == null) {
                throw new IllegalArgumentException("AdapterFolderOutput needs setDirectory");
            }
            if (rank != null && rank < 1) {
                throw new IllegalArgumentException(
                        "adapter output: rank must be at least 1, got " + rank);
            }
            List<AdapterCandidate> adapters =
                    namesFrom.stream()
                            .filter(AdapterCandidate.class::isInstance)
                            .map(AdapterCandidate.class::cast)
                            .toList();
            return new AdapterFolderOutput(
                    dir,
                    rank,
                    baseModel,
                    key ->
                            adapters.stream()
                                    .map(a -> a.moduleOf(key))
                                    .filter(Objects::nonNull)
                                    .findFirst()
                                    .orElse(key.substring(0, key.length() - ".weight".length())));
        }
    }
}
