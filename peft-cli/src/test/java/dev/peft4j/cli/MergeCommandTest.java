package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryOutput;
import dev.peft4j.merge.MemoryTensors;
import dev.peft4j.merge.MergeContext;
import dev.peft4j.merge.MergeFixtures;
import dev.peft4j.merge.MergeMethod;
import dev.peft4j.merge.opcm.Opcm;
import dev.peft4j.merge.opcm.OpcmMerger;
import dev.peft4j.merge.ta.TaskArithmetic;
import dev.peft4j.merge.ties.Ties;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code peft merge} on tiny safetensors models written here: config files, overrides, outputs, errors. */
class MergeCommandTest {

    @TempDir Path tmp;

    private NDManager manager;
    private MemoryTensors base;
    private Path baseDir;
    private final List<Path> tuned = new ArrayList<>();

    @BeforeEach
    void writeModels() throws IOException {
        manager = NDManager.newBaseManager();
        base = MergeFixtures.base(manager, 1);
        baseDir = MergeFixtures.writeModel(tmp.resolve("base"), base, 1 << 20);
        Files.writeString(baseDir.resolve("config.json"), "{\"model_type\": \"tiny\"}");
        Files.writeString(baseDir.resolve("tokenizer.json"), "{}");
        for (int i = 0; i < 3; i++) {
            tuned.add(
                    MergeFixtures.writeModel(
                            tmp.resolve("ft" + i),
                            MergeFixtures.fineTuned(manager, base, 10 + i, 0.05 * (i + 1)),
                            1 << 20));
        }
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** What the library gives for the same inputs, in memory. */
    private MemoryTensors library(MergeMethod method, List<Path> dirs) throws IOException {
        List<Candidate> cs = new ArrayList<>();
        try (CheckpointReader b = CheckpointReader.open(baseDir)) {
            for (Path d : dirs) {
                cs.add(Candidate.open(d, Candidate.defaultName(d), b));
            }
            MemoryOutput out = new MemoryOutput(manager);
            method.merge(b, cs, out);
            for (Candidate c : cs) {
                c.close();
            }
            return out.tensors();
        }
    }

    private static void assertFolderEquals(Path dir, MemoryTensors expected) throws IOException {
        try (CheckpointReader r = CheckpointReader.open(dir)) {
            MergeFixtures.assertSameModel(r, expected, 0, 0);
        }
    }

    private Path yaml(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text);
    }

    private static void assertOneErrorLine(CliRun r, String... parts) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        for (String p : parts) {
            assertTrue(r.err().contains(p), "'" + p + "' in: " + r.err());
        }
    }

    @Test
    void aYamlConfigMergesLikeTheLibraryCall() throws IOException {
        Path config =
                yaml(
                        "merge.yaml",
                        """
                        base: base
                        candidates:
                          - path: ft0
                            name: first
                          - ft1
                          - ft2
                        method: ties
                        options: {k: 0.3, lambda: 0.9}
                        output:
                          path: out/merged
                          max_shard_size: 300B
                        """);
        CliRun r = CliRun.of("merge", "-c", config.toString());
        assertEquals(0, r.code(), r.err() + r.progress());
        assertTrue(r.out().contains("method:   ties {k=0.3, lambda=0.9}"), r.out());
        assertTrue(r.out().contains("models:   3 [first, ft1, ft2]"), r.out());
        assertTrue(
                r.progress()
                        .contains(
                                "[1/" + base.keys().size() + "] embeddings.word_embeddings.weight"),
                r.progress());
        Path out = tmp.resolve("out/merged");
        assertFolderEquals(out, library(Ties.builder().optK(0.3).optLambda(0.9).build(), tuned));
        assertTrue(Files.exists(out.resolve(CheckpointReader.INDEX_FILE)), "sharded with an index");
        assertEquals("{\"model_type\": \"tiny\"}", Files.readString(out.resolve("config.json")));
        assertTrue(Files.exists(out.resolve("tokenizer.json")));
    }

    @Test
    void flagsOverrideTheConfig() throws IOException {
        Path config =
                yaml(
                        "merge.yaml",
                        "base: base\ncandidates: [ft0, ft1]\nmethod: ties\noutput: out/ties\n");
        Path other = tmp.resolve("other");
        CliRun r =
                CliRun.of(
                        "merge",
                        "-c",
                        config.toString(),
                        "--method",
                        "task_arithmetic",
                        "--lambda",
                        "0.7",
                        "--output",
                        other.toString(),
                        "--candidate",
                        tuned.get(2).toString(),
                        "--candidate",
                        tuned.get(0).toString(),
                        "-q");
        assertEquals(0, r.code(), r.err());
        assertEquals(
                "", r.progress().lines().filter(l -> l.startsWith("  [")).findAny().orElse(""));
        assertFolderEquals(
                other,
                library(
                        TaskArithmetic.builder().optLambda(0.7).build(),
                        List.of(tuned.get(2), tuned.get(0))));
        assertFalse(Files.exists(tmp.resolve("out/ties")));
    }

    @Test
    void aJsonConfigCanWriteLoraAdaptersAsOneAdapter() throws IOException {
        List<Path> adapters = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            var f =
                    MergeFixtures.randomLora(
                            manager, base, MergeFixtures.LINEAR_MODULES, 2, 40 + i);
            adapters.add(MergeFixtures.writeLora(tmp.resolve("lora" + i), f, 2, 4));
        }
        Path config =
                yaml(
                        "merge.json",
                        "{\"base\": \"base\", \"candidates\": [\"lora0\", \"lora1\"], \"method\":"
                            + " \"task_arithmetic\", \"output\": {\"path\": \"merged\", \"format\":"
                            + " \"adapter\"}}");
        CliRun r = CliRun.of("merge", "--config", config.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("LoRA adapter folder"), r.out());
        MemoryTensors expected = library(TaskArithmetic.builder().build(), adapters);
        try (CheckpointReader b = CheckpointReader.open(baseDir);
                Candidate merged = Candidate.open(tmp.resolve("merged"), "merged", b);
                NDManager scope = manager.newSubManager()) {
            for (String key : base.keys()) {
                NDArray theta0 = b.load(key, scope);
                if (theta0.getDataType().isFloating()) {
                    NdAssert.assertAlmostEquals(
                            merged.weights(key, theta0, scope), expected.get(key), 1e-5, 1e-6);
                }
            }
        }
    }

    @Test
    void opcmEmitsTheMergedModelAfterEachArrival() throws IOException {
        Path out = tmp.resolve("opcm");
        CliRun r =
                CliRun.of(
                        "merge",
                        "--base",
                        baseDir.toString(),
                        "--candidate",
                        tuned.get(0) + "=a",
                        "--candidate",
                        tuned.get(1) + "=b",
                        "--candidate",
                        tuned.get(2) + "=c",
                        "--method",
                        "opcm",
                        "--output",
                        out.toString(),
                        "--emit-each",
                        "--dtype",
                        "float32");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.progress().contains("model 2 'b': ||tau||"), r.progress());
        try (CheckpointReader b = CheckpointReader.open(baseDir);
                OpcmMerger merger = Opcm.builder().build().start(b, MergeContext.defaults())) {
            for (int i = 0; i < 3; i++) {
                try (Candidate c = Candidate.open(tuned.get(i), "m" + i, b)) {
                    merger.add(c);
                }
                MemoryOutput expected = new MemoryOutput(manager);
                merger.write(expected);
                assertFolderEquals(out.resolve("step-" + (i + 1)), expected.tensors());
            }
        }
    }

    @Test
    void configErrorsNameTheFileAndKey() throws IOException {
        Path config =
                yaml(
                        "bad.yaml",
                        "base: base\ncandidates: [ft0]\nmethod: ties\nlamda: 0.3\noutput: o\n");
        assertOneErrorLine(
                CliRun.of("merge", "-c", config.toString()), "bad.yaml: unknown key 'lamda'");
        Path noMethod = yaml("nomethod.yaml", "base: base\ncandidates: [ft0]\noutput: o\n");
        assertOneErrorLine(
                CliRun.of("merge", "-c", noMethod.toString()), "nomethod.yaml: no method");
        assertOneErrorLine(
                CliRun.of(
                        "merge",
                        "--base",
                        baseDir.toString(),
                        "--candidate",
                        tuned.get(0).toString(),
                        "--method",
                        "slerp",
                        "-o",
                        tmp.resolve("o").toString()),
                "unknown merge method 'slerp'");
        assertOneErrorLine(
                CliRun.of(
                        "merge",
                        "--base",
                        baseDir.toString(),
                        "--candidate",
                        tuned.get(0).toString(),
                        "--method",
                        "ties",
                        "--alpha",
                        "0.5",
                        "-o",
                        tmp.resolve("o").toString()),
                "method ties has no option 'alpha'");
        assertOneErrorLine(
                CliRun.of(
                        "merge",
                        "--base",
                        baseDir.toString(),
                        "--candidate",
                        tuned.get(0).toString(),
                        "--method",
                        "ties",
                        "--emit-each",
                        "-o",
                        tmp.resolve("o").toString()),
                "--emit-each is for");
        assertFalse(Files.exists(tmp.resolve("o")));
    }

    /** Runs a merge of ft0 and a broken candidate and checks the one error line and that nothing was published. */
    private void brokenCandidateFails(MemoryTensors broken, String... parts) throws IOException {
        Path dir = MergeFixtures.writeModel(tmp.resolve("broken"), broken, 1 << 20);
        Path out = tmp.resolve("out");
        assertOneErrorLine(
                CliRun.of(
                        "merge",
                        "--base",
                        baseDir.toString(),
                        "--candidate",
                        tuned.get(0).toString(),
                        "--candidate",
                        dir + "=broken",
                        "--method",
                        "task_arithmetic",
                        "-o",
                        out.toString()),
                parts);
        assertFalse(Files.exists(out), "no output under the final name");
    }

    @Test
    void aShapeMismatchNamesTheCandidateAndTensor() throws IOException {
        MemoryTensors t = MergeFixtures.fineTuned(manager, base, 5, 0.1);
        t.put("layers.1.fc2.weight", manager.zeros(new Shape(6, 10)));
        brokenCandidateFails(
                t,
                "candidate 'broken'",
                "shape mismatch for tensor 'layers.1.fc2.weight': [6, 10],"
                        + " the base has [6, 9]");
    }

    @Test
    void aMissingTensorNamesTheCandidateAndTensor() throws IOException {
        MemoryTensors full = MergeFixtures.fineTuned(manager, base, 5, 0.1);
        MemoryTensors t = new MemoryTensors(manager);
        full.keys().stream()
                .filter(k -> !k.equals("layers.0.norm.weight"))
                .forEach(k -> t.put(k, full.get(k)));
        brokenCandidateFails(t, "candidate 'broken'", "missing tensor 'layers.0.norm.weight'");
    }

    @Test
    void aDifferentVocabularyIsReportedAsSuch() throws IOException {
        MemoryTensors t = MergeFixtures.fineTuned(manager, base, 5, 0.1);
        t.put("embeddings.word_embeddings.weight", manager.zeros(new Shape(12, 6)));
        brokenCandidateFails(
                t,
                "candidate 'broken'",
                "different vocabulary size",
                "has 12 rows, the base has 11");
    }

    @Test
    void nanOrInfNamesTheCandidateAndTensorAndPublishesNothing() throws IOException {
        MemoryTensors t = MergeFixtures.fineTuned(manager, base, 5, 0.1);
        NDArray w = t.get("layers.1.query.bias").duplicate();
        w.set(new NDIndex("3"), Float.POSITIVE_INFINITY);
        t.put("layers.1.query.bias", w.toType(DataType.FLOAT32, false));
        brokenCandidateFails(
                t, "candidate 'broken'", "tensor 'layers.1.query.bias' contains NaN or Inf");
    }

    /**
     * A mergekit YAML file runs unchanged, in both of mergekit-yaml's forms, and gives the
     * library's {@code Mergekit.run} bytes (the library is checked against a transcription of
     * mergekit in peft-merge's MergekitTest); flags of our own format are refused.
     */
    @Test
    void aMergekitConfigRunsInBothForms() throws IOException {
        Path config =
                yaml(
                        "mergekit.yml",
                        """
                        merge_method: ties
                        base_model: base
                        parameters:
                          normalize: true
                          density: [0.3, 0.8]
                        models:
                          - model: ft0
                            parameters: {weight: 1.0}
                          - model: ft1
                            parameters: {weight: 0.5, density: 0.6}
                        dtype: float32
                        """);
        CliRun positional = CliRun.of("merge", config.toString(), tmp.resolve("a").toString());
        assertEquals(0, positional.code(), positional.err());
        assertTrue(positional.out().contains("ties"), positional.out());
        CliRun flags =
                CliRun.of(
                        "merge", "-q", "-c", config.toString(), "-o", tmp.resolve("b").toString());
        assertEquals(0, flags.code(), flags.err());
        dev.peft4j.merge.mergekit.Mergekit.run(
                dev.peft4j.merge.mergekit.MergekitConfig.read(config),
                tmp.resolve("c"),
                dev.peft4j.merge.mergekit.Mergekit.RunOptions.defaults());
        for (String dir : List.of("a", "b")) {
            assertEquals(
                    -1L,
                    Files.mismatch(
                            tmp.resolve(dir).resolve("model.safetensors"),
                            tmp.resolve("c/model.safetensors")),
                    dir);
        }
        assertTrue(Files.exists(tmp.resolve("a/tokenizer.json")), "the base's tokenizer copied");

        assertOneErrorLine(
                CliRun.of(
                        "merge",
                        config.toString(),
                        tmp.resolve("d").toString(),
                        "--method",
                        "ties"),
                "mergekit config",
                "--method");
        assertOneErrorLine(CliRun.of("merge", "-c", config.toString()), "no output folder");
        assertFalse(Files.exists(tmp.resolve("d")));
    }

    /** TIES' merge_func and consensus from flags and from the config file; a bad value names the option. */
    @Test
    void tiesMergeFuncAndConsensusOptions() throws IOException {
        List<String> args = new ArrayList<>(List.of("merge", "-q", "--base", baseDir.toString()));
        for (Path t : tuned) {
            args.add("--candidate");
            args.add(t.toString());
        }
        List<String> flags = new ArrayList<>(args);
        flags.addAll(
                List.of(
                        "--method",
                        "ties",
                        "--merge-func",
                        "sum",
                        "--consensus",
                        "count",
                        "--lambda",
                        "0.3",
                        "-o",
                        tmp.resolve("f").toString()));
        CliRun r = CliRun.of(flags.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertFolderEquals(
                tmp.resolve("f"),
                library(
                        Ties.builder()
                                .optLambda(0.3)
                                .optMergeFunc(Ties.MergeFunc.SUM)
                                .optConsensus(Ties.Consensus.COUNT)
                                .build(),
                        tuned));
        Path config =
                yaml(
                        "ties.yaml",
                        "base: base\ncandidates: [ft0, ft1, ft2]\nmethod: ties\n"
                                + "options: {merge_func: max, k: 0.5}\noutput: out/max\n");
        assertEquals(0, CliRun.of("merge", "-q", "-c", config.toString()).code());
        assertFolderEquals(
                tmp.resolve("out/max"),
                library(Ties.builder().optK(0.5).optMergeFunc(Ties.MergeFunc.MAX).build(), tuned));
        List<String> bad = new ArrayList<>(args);
        bad.addAll(
                List.of(
                        "--method",
                        "ties",
                        "--merge-func",
                        "median",
                        "-o",
                        tmp.resolve("g").toString()));
        assertOneErrorLine(CliRun.of(bad.toArray(String[]::new)), "merge_func 'median'", "mean");
    }

    /** Per-candidate weight and density in the merge file reach TIES; other methods refuse them. */
    @Test
    void perCandidateWeightsAndDensitiesInTheMergeFile() throws IOException {
        Path config =
                yaml(
                        "weighted.yaml",
                        """
                        base: base
                        candidates:
                          - {path: ft0, weight: 1.0, density: 0.3}
                          - {path: ft1, weight: 0.5}
                          - ft2
                        method: ties
                        options: {normalize: true, k: 0.6}
                        output: out/weighted
                        """);
        CliRun r = CliRun.of("merge", "-q", "-c", config.toString());
        assertEquals(0, r.code(), r.err());
        assertFolderEquals(
                tmp.resolve("out/weighted"),
                library(
                        Ties.builder()
                                .optK(0.6)
                                .optNormalize(true)
                                .optWeights(java.util.Map.of("ft0", 1.0, "ft1", 0.5))
                                .optDensities(java.util.Map.of("ft0", 0.3))
                                .build(),
                        tuned));
        Path ta =
                yaml(
                        "ta.yaml",
                        "base: base\n"
                                + "candidates: [{path: ft0, weight: 2.0}]\n"
                                + "method: task_arithmetic\n"
                                + "output: out/ta\n");
        assertOneErrorLine(CliRun.of("merge", "-c", ta.toString()), "task_arithmetic", "weight");
    }
}
