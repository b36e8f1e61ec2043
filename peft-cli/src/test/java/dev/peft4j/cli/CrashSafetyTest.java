package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.KilledChild;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.merge.Delta;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.io.HfWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Crash safety, proven by killing: a child JVM writes version after version of an adapter folder
 * ({@code PeftModel.save}), a sharded merged model ({@code ModelFolderOutput}) or an exported model
 * ({@code HfWeights.savePretrained}) to one path, and is killed with SIGKILL at a seeded random
 * moment, several times. After every kill the path holds one complete version, every tensor of it
 * written by the same write (or nothing before the first write), and nothing is left beside it once
 * a reader has opened it. Every other child widens the window between the two renames of a folder
 * replacement ({@code peft4j.atomicFiles.renamePauseMillis}), so that kills land there too: the
 * name is then missing until a reader or the next writer restores the complete previous version.
 */
class CrashSafetyTest {

    /** Kills per writer; every other child widens the window between a directory's two renames. */
    private static final int KILLS = 8;

    @TempDir Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"adapter", "merge", "export"})
    void aKilledWriterLeavesOneCompleteVersion(String mode) throws Exception {
        Path target = tmp.resolve("out");
        Random schedule = new Random(mode.hashCode());
        int killedAfterAWrite = 0;
        int restored = 0;
        for (int kill = 0; kill < KILLS; kill++) {
            // the first two kills may land in the first write; the others after it, however
            // slow the machine (a loaded one wrote nothing in 400 ms, and the count below failed)
            KilledChild.runAfter(
                    kill < 2 ? "ready" : "written",
                    Child.class,
                    List.of("-Dpeft4j.atomicFiles.renamePauseMillis=" + (kill % 2 * 150)),
                    schedule.nextInt(400),
                    mode,
                    target.toString());
            boolean renamedAside =
                    leftovers(target).stream().anyMatch(n -> n.startsWith("out.old-"));
            if (!Files.exists(target) && !renamedAside && hasLeftovers(target)) {
                // killed during the first write: only its staging is there, and no version yet
                AtomicFiles.recover(target);
                assertFalse(Files.exists(target), mode + ": no version before the first write");
                assertEquals(List.of(), leftovers(target), "the first write's staging is gone");
            } else if (Files.exists(target) || renamedAside) {
                killedAfterAWrite++;
                restored += Files.exists(target) ? 0 : 1; // killed between the renames
                int version = verify(mode, target); // the readers recover first
                assertTrue(version >= 1, mode + ": version " + version);
                assertEquals(List.of(), leftovers(target), "recovered: nothing left beside");
            }
        }
        assertTrue(killedAfterAWrite >= KILLS - 2, "most kills landed after a first write");
        assertTrue(restored >= 1, "at least one kill landed between a replacement's renames");
    }

    private static boolean hasLeftovers(Path target) throws IOException {
        return !leftovers(target).isEmpty();
    }

    private static List<String> leftovers(Path target) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> siblings = Files.list(target.getParent())) {
            siblings.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(target.getFileName() + "."))
                    .forEach(out::add);
        }
        return out;
    }

    /** The version every tensor under {@code target} holds (all the same), after recovery. */
    private static int verify(String mode, Path target) throws IOException {
        Set<Float> values = new HashSet<>();
        try (NDManager m = NDManager.newBaseManager()) {
            if (mode.equals("adapter")) {
                AdapterCheckpoint.readConfig(target); // recovers, then parses
                try (SafetensorsReader r =
                        SafetensorsReader.open(target.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
                    for (String key : r.keys()) {
                        addValues(r.load(key, m), values);
                    }
                }
            } else {
                try (CheckpointReader r = CheckpointReader.open(target)) {
                    assertEquals(
                            mode.equals("merge") ? Child.TENSORS : r.keys().size(),
                            r.keys().size());
                    for (String key : r.keys()) {
                        addValues(r.load(key, m), values);
                    }
                }
                if (mode.equals("export")) {
                    BertConfig.read(target.resolve("config.json"));
                }
            }
        }
        assertEquals(1, values.size(), mode + ": tensors of different writes " + values);
        return Math.round(values.iterator().next());
    }

    private static void addValues(NDArray a, Set<Float> values) {
        for (float v : a.toType(DataType.FLOAT32, false).toFloatArray()) {
            values.add(v);
        }
    }

    /** Writes version 1, 2, 3, ... of one kind of output to the path given, until killed. */
    public static final class Child {

        static final int TENSORS = 12;

        public static void main(String[] args) throws Exception {
            String mode = args[0];
            Path target = Path.of(args[1]);
            try (NDManager m = NDManager.newBaseManager()) {
                Writer writer = writer(mode, m, target);
                System.out.println("ready");
                System.out.flush();
                for (int version = 1; ; version++) {
                    writer.write(version);
                    if (version == 1) {
                        System.out.println("written");
                        System.out.flush();
                    }
                }
            }
        }

        interface Writer {
            void write(int version) throws IOException;
        }

        private static Writer writer(String mode, NDManager m, Path target) {
            switch (mode) {
                case "adapter":
                    {
                        TinyModels.TinyModel tiny = TinyModels.transformer(m, 1);
                        PeftModel pm =
                                PeftModel.create(
                                        tiny.block(),
                                        LoraConfig.builder()
                                                .optRank(4)
                                                .setTargetModules("query", "value", "fc1")
                                                .build());
                        return version -> {
                            fill(pm.root().getParameters().values(), version, true);
                            pm.save(target);
                        };
                    }
                case "merge":
                    return version -> {
                        try (ModelFolderOutput out =
                                        ModelFolderOutput.builder()
                                                .setDirectory(target)
                                                .optMaxShardBytes(4096)
                                                .build();
                                NDManager scope = m.newSubManager()) {
                            for (int t = 0; t < TENSORS; t++) {
                                NDArray theta = scope.full(new Shape(16, 24), version);
                                out.write(
                                        String.format(Locale.ROOT, "layer.%02d.weight", t),
                                        theta,
                                        Delta.zero(),
                                        DataType.FLOAT32);
                            }
                            out.commit();
                        }
                    };
                default:
                    {
                        BertConfig config =
                                BertConfig.parse(
                                        "{\"vocab_size\": 30, \"hidden_size\": 16,"
                                                + " \"num_hidden_layers\": 2,"
                                                + " \"num_attention_heads\": 2,"
                                                + " \"intermediate_size\": 32,"
                                                + " \"max_position_embeddings\": 16}");
                        BertModel model = new BertModel(config, false);
                        model.initialize(m, DataType.FLOAT32, new Shape(1, 4));
                        return version -> {
                            fill(model.getParameters().values(), version, false);
                            HfWeights.savePretrained(model, config, target);
                        };
                    }
            }
        }

        private static void fill(List<Parameter> params, int version, boolean trainableOnly) {
            for (Parameter p : params) {
                if (!trainableOnly || p.requiresGradient()) {
                    p.getArray().set(new NDIndex("..."), version);
                }
            }
        }
    }
}
