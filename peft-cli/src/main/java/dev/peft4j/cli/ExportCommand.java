package dev.peft4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peft export}: merges an adapter into its pre-trained base and writes a plain Hugging Face
 * model folder ({@code config.json} + {@code model.safetensors}), published atomically.
 */
@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        description = "Merge an adapter into its base model and write a Hugging Face model folder.")
public final class ExportCommand implements Callable<Integer> {

    private static final String HEAD_KEY = AdapterCheckpoint.PREFIX + "classifier.weight";

    @Option(
            names = "--model",
            defaultValue = "all-minilm-l6-v2",
            description =
                    "pre-trained base: all-minilm-l6-v2 or bge-small-en-v1.5 (default:"
                            + " ${DEFAULT-VALUE})")
    String model;

    @Option(
            names = "--adapter",
            required = true,
            description = "adapter folder (adapter_config.json + adapter_model.safetensors)")
    Path adapter;

    @Option(
            names = {"-o", "--out"},
            required = true,
            description = "output model folder")
    Path out;

    @Override
    public Integer call() throws Exception {
        PretrainedEncoder encoder = TrainCommand.encoder(model);
        int labels = headLabels(adapter);
        try (NDManager manager = NDManager.newBaseManager()) {
            Block base =
                    labels > 0
                            ? encoder.loadForClassification(manager, encoder.weights(), labels)
                            : encoder.load(manager, encoder.weights());
            Block merged = PeftModel.load(base, adapter).mergeAndUnload();
            JsonObject config = JsonParser.parseString(encoder.config().toJson()).getAsJsonObject();
            if (labels > 0) {
                JsonArray arch = new JsonArray();
                arch.add(BertForSequenceClassification.class.getSimpleName());
                config.add("architectures", arch);
                config.addProperty("num_labels", labels);
            }
            AtomicFiles.publishDirectory(
                    out,
                    staging -> {
                        HfWeights.save(merged, staging.resolve("model.safetensors"));
                        JsonIO.writeSorted(staging.resolve("config.json"), config);
                    });
        }
        System.out.println("merged " + adapter + " into " + model + " -> " + out.toAbsolutePath());
        return 0;
    }

    /** The number of classes of the adapter's saved classification head, or 0 when it has none. */
    static int headLabels(Path adapter) throws Exception {
        try (SafetensorsReader r =
                SafetensorsReader.open(adapter.resolve(AdapterCheckpoint.WEIGHTS_FILE))) {
            return r.contains(HEAD_KEY) ? (int) r.info(HEAD_KEY).shape().get(0) : 0;
        }
    }
}
