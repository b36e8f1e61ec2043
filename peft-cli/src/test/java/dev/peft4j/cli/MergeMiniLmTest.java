package dev.peft4j.cli;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.tree.ModuleTree;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code peft merge} on the real all-MiniLM-L6-v2: LoRA adapters saved on the sequence classifier
 * (module paths {@code bert.encoder.layer...}, a {@code classifier} head) merged into the encoder's
 * own checkpoint (tensors {@code encoder.layer...}), as a model and as a new adapter; checked
 * against the adapters' own weight changes.
 */
class MergeMiniLmTest {

    private static final String VALUE = "encoder.layer.3.attention.self.value";

    @TempDir Path tmp;

    @Test
    void classifierAdaptersMergeIntoTheEncoderCheckpoint() throws Exception {
        PretrainedEncoder enc = PretrainedEncoder.ALL_MINILM_L6_V2;
        Path baseDir = Files.createDirectories(tmp.resolve("base"));
        List<Path> adapters = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            HfWeights.save(enc.load(m, enc.weights()), baseDir.resolve("model.safetensors"));
            NDArray expected;
            try (CheckpointReader base = CheckpointReader.open(baseDir)) {
                expected =
                        base.load(
                                VALUE + ".weight",
                                m); // the encoder checkpoint has no "bert." prefix
            }
            for (int i = 0; i < 2; i++) {
                BertForSequenceClassification clf = enc.loadForClassification(m, enc.weights(), 2);
                PeftModel pm =
                        PeftModel.create(
                                clf,
                                LoraConfig.builder()
                                        .optRank(4)
                                        .setTargetModules("query", "value")
                                        .optModulesToSave("classifier")
                                        .build());
                AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 10 + i);
                expected.addi(
                        pm.adapters(PeftModel.DEFAULT)
                                .get("bert." + VALUE)
                                .deltaWeight(m)
                                .mul(0.5));
                pm.save(tmp.resolve("lora" + i));
                adapters.add(tmp.resolve("lora" + i));
            }
            CliRun r =
                    CliRun.of(
                            "merge",
                            "--base",
                            baseDir.toString(),
                            "--candidate",
                            adapters.get(0).toString(),
                            "--candidate",
                            adapters.get(1).toString(),
                            "--method",
                            "task_arithmetic",
                            "--lambda",
                            "0.5",
                            "-o",
                            tmp.resolve("merged").toString(),
                            "-q");
            assertEquals(0, r.code(), r.err());
            assertTrue(
                    r.out()
                            .contains(
                                    "not in the base left out [classifier.weight,"
                                            + " classifier.bias]"),
                    r.out());
            try (CheckpointReader merged = CheckpointReader.open(tmp.resolve("merged"))) {
                assertAlmostEquals(merged.load(VALUE + ".weight", m), expected, 1e-5, 1e-6);
            }
            CliRun a =
                    CliRun.of(
                            "merge",
                            "--base",
                            baseDir.toString(),
                            "--candidate",
                            adapters.get(0).toString(),
                            "--candidate",
                            adapters.get(1).toString(),
                            "--method",
                            "task_arithmetic",
                            "--lambda",
                            "0.5",
                            "-o",
                            tmp.resolve("adapter").toString(),
                            "--format",
                            "adapter",
                            "-q");
            assertEquals(0, a.code(), a.err());
            BertForSequenceClassification fresh = enc.loadForClassification(m, enc.weights(), 2);
            PeftModel.load(fresh, tmp.resolve("adapter")).mergeAndUnload();
            assertAlmostEquals(
                    ModuleTree.get(fresh, "bert." + VALUE).getParameters().get("weight").getArray(),
                    expected,
                    1e-5,
                    1e-6);
        }
    }
}
