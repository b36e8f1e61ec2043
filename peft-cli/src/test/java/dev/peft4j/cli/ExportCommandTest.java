package dev.peft4j.cli;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportCommandTest {

    @TempDir Path tmp;

    @Test
    void exportedModelGivesTheAdaptedOutputs() throws Exception {
        PretrainedEncoder enc = PretrainedEncoder.ALL_MINILM_L6_V2;
        Path adapter = tmp.resolve("adapter");
        float[] expected;
        try (NDManager m = NDManager.newBaseManager()) {
            BertForSequenceClassification clf = enc.loadForClassification(m, enc.weights(), 3);
            PeftModel pm =
                    PeftModel.create(
                            clf,
                            LoraConfig.builder()
                                    .optRank(4)
                                    .setTargetModules("query", "value")
                                    .optModulesToSave("classifier")
                                    .build());
            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 3);
            pm.save(adapter);
            expected = logits(pm.root(), m).toFloatArray();
        }
        Path out = tmp.resolve("merged");
        assertEquals(
                0,
                PeftCli.commandLine()
                        .execute("export", "--adapter", adapter.toString(), "-o", out.toString()));
        assertEquals(
                3,
                JsonParser.parseString(Files.readString(out.resolve("config.json")))
                        .getAsJsonObject()
                        .get("num_labels")
                        .getAsInt());
        try (NDManager m = NDManager.newBaseManager()) {
            BertForSequenceClassification fresh =
                    new BertForSequenceClassification(enc.config(), 3, enc.pooling());
            fresh.initialize(
                    m, DataType.FLOAT32, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1));
            HfWeights.load(fresh, out.resolve("model.safetensors"), LoadOptions.builder().build());
            assertAlmostEquals(logits(fresh, m), m.create(expected, new Shape(2, 3)), 1e-4, 1e-5);
        }
    }

    private static NDArray logits(Block model, NDManager m) {
        long[] ids = {101, 7592, 2088, 102, 101, 2054, 1037, 2204};
        NDArray x = m.create(ids, new Shape(2, 4));
        NDList in =
                new NDList(
                        x,
                        m.ones(new Shape(2, 4), DataType.INT64),
                        m.zeros(new Shape(2, 4), DataType.INT64));
        return model.forward(new ParameterStore(m, false), in, false).singletonOrThrow();
    }
}
