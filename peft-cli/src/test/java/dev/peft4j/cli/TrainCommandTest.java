package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.nola.NolaConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.export.HeadConfig;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextExample;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class TrainCommandTest {

    @TempDir Path tmp;

    private static final String[] ANIMALS = {
        "the cat sat on the mat",
        "a dog barked at the mailman",
        "the horse ran across the field",
        "my parrot repeats every word",
        "a cow grazes in the meadow",
        "the kitten chased a ball of yarn",
        "wolves howl at the moon",
        "the rabbit hid in its burrow"
    };
    private static final String[] MARKETS = {
        "stocks fell sharply on monday",
        "the bond yield rose again",
        "investors sold their shares",
        "the central bank raised interest rates",
        "oil prices hit a new high",
        "the index closed lower today",
        "earnings beat analyst forecasts",
        "the currency weakened against the dollar"
    };

    private Path jsonl(String name, int from, int to) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < to; i++) {
            sb.append("{\"text\": \"").append(ANIMALS[i]).append("\", \"label\": \"animals\"}\n");
            sb.append("{\"text\": \"").append(MARKETS[i]).append("\", \"label\": \"markets\"}\n");
        }
        Path p = tmp.resolve(name);
        Files.writeString(p, sb.toString());
        return p;
    }

    private static int run(StringWriter err, String... args) {
        CommandLine cl = PeftCli.commandLine();
        cl.setErr(new PrintWriter(err));
        return cl.execute(args);
    }

    @Test
    void trainsSavesTheBestAdapterAndItsMetricsReproduceOnReload() throws Exception {
        Path train = jsonl("train.jsonl", 0, 6);
        Path val = jsonl("val.jsonl", 6, 8);
        Path out = tmp.resolve("run");
        StringWriter err = new StringWriter();
        int code =
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--validation",
                        val.toString(),
                        "--test",
                        val.toString(),
                        "--r",
                        "4",
                        "--alpha",
                        "8",
                        "--init",
                        "gaussian",
                        "--set",
                        "lora_dropout=0.0",
                        "--epochs",
                        "3",
                        "--batch",
                        "4",
                        "--lr",
                        "5e-3",
                        "-o",
                        out.toString());
        assertEquals(0, code, err.toString());
        JsonObject metrics =
                JsonParser.parseString(Files.readString(out.resolve("metrics.json")))
                        .getAsJsonObject();
        assertEquals("[\"animals\",\"markets\"]", metrics.get("labels").toString());
        assertEquals(9, metrics.get("steps").getAsInt());
        JsonObject cfg =
                JsonParser.parseString(
                                Files.readString(out.resolve("best-adapter/adapter_config.json")))
                        .getAsJsonObject();
        assertEquals(4, cfg.get("r").getAsInt());
        assertEquals("gaussian", cfg.get("init_lora_weights").getAsString());
        assertEquals("[\"classifier\"]", cfg.get("modules_to_save").toString());
        assertEquals(
                new HeadConfig(Pooling.MEAN, List.of("animals", "markets"), 128),
                HeadConfig.read(out.resolve("best-adapter")),
                "the head's pooling, labels and truncation go beside the adapter");

        assertEquals(
                metrics.get("test_accuracy").getAsDouble(),
                reloadedAccuracy(out.resolve("best-adapter")),
                1e-9);
    }

    /**
     * {@code --init} reaches the data-driven and SVD initializers; the saved adapter is the plain
     * LoRA of rank 2r for the original MiniLM (methods.md), so it loads onto an unmodified model and
     * reproduces the reported test accuracy.
     */
    @ParameterizedTest
    @ValueSource(strings = {"pissa_niter_4", "lora_ga"})
    void residualInitializersSaveAPlainLoraForTheOriginalModel(String init) throws Exception {
        Path train = jsonl("train.jsonl", 0, 6);
        Path val = jsonl("val.jsonl", 6, 8);
        Path out = tmp.resolve("run-" + init);
        StringWriter err = new StringWriter();
        int code =
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--validation",
                        val.toString(),
                        "--test",
                        val.toString(),
                        "--r",
                        "4",
                        "--alpha",
                        "8",
                        "--init",
                        init,
                        "--set",
                        "lora_dropout=0.0",
                        "--set",
                        "use_rslora=" + "lora_ga".equals(init),
                        "--epochs",
                        "2",
                        "--batch",
                        "4",
                        "--lr",
                        "5e-3",
                        "-o",
                        out.toString());
        assertEquals(0, code, err.toString());
        JsonObject metrics =
                JsonParser.parseString(Files.readString(out.resolve("metrics.json")))
                        .getAsJsonObject();
        JsonObject cfg =
                JsonParser.parseString(
                                Files.readString(out.resolve("best-adapter/adapter_config.json")))
                        .getAsJsonObject();
        assertEquals(8, cfg.get("r").getAsInt(), "rank 2r after the conversion");
        assertTrue(cfg.get("init_lora_weights").getAsBoolean(), cfg.toString());
        assertTrue(metrics.get("test_accuracy").getAsDouble() >= 0.75, metrics.toString());
        assertEquals(
                metrics.get("test_accuracy").getAsDouble(),
                reloadedAccuracy(out.resolve("best-adapter")),
                1e-9);
    }

    private static double reloadedAccuracy(Path adapter) throws Exception {
        return reloadedAccuracy(adapter, Pooling.MEAN);
    }

    private static double reloadedAccuracy(Path adapter, Pooling pooling) throws Exception {
        PretrainedEncoder enc = PretrainedEncoder.ALL_MINILM_L6_V2;
        try (NDManager m = NDManager.newBaseManager()) {
            PeftModel pm =
                    PeftModel.load(
                            enc.loadForClassification(m, enc.weights(), 2, pooling), adapter);
            return validationAccuracy(pm.root(), m);
        }
    }

    private static double validationAccuracy(Block model, NDManager m) throws Exception {
        List<TextExample> examples = new ArrayList<>();
        for (int i = 6; i < 8; i++) {
            examples.add(new TextExample(ANIMALS[i], 0));
            examples.add(new TextExample(MARKETS[i], 1));
        }
        try (HuggingFaceTokenizer tok = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(128)) {
            return TextClassifiers.accuracy(
                    model, TextClassifiers.batches(examples, tok, 4, false, 1), m);
        }
    }

    /**
     * {@code --pooling pooler} classifies as transformers' BertForSequenceClassification does: the
     * pooler (which MiniLM lacks) is trained and saved with the head, the head config records the
     * pooling and labels, and {@code peft export} writes a BertForSequenceClassification folder
     * whose weights, loaded strictly into a fresh model, give the reported accuracy.
     */
    @Test
    void poolerPoolingTrainsThePoolerAndExportsAsTransformersClassification() throws Exception {
        Path train = jsonl("train.jsonl", 0, 6);
        Path val = jsonl("val.jsonl", 6, 8);
        Path out = tmp.resolve("pooler");
        StringWriter err = new StringWriter();
        int code =
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--validation",
                        val.toString(),
                        "--test",
                        val.toString(),
                        "--pooling",
                        "pooler",
                        "--epochs",
                        "3",
                        "--batch",
                        "4",
                        "--lr",
                        "5e-3",
                        "-o",
                        out.toString());
        assertEquals(0, code, err.toString());
        Path adapter = out.resolve("best-adapter");
        JsonObject cfg = JsonIO.readObject(adapter.resolve("adapter_config.json"));
        assertEquals("[\"classifier\",\"pooler\"]", cfg.get("modules_to_save").toString());
        try (SafetensorsReader r =
                SafetensorsReader.open(adapter.resolve("adapter_model.safetensors"))) {
            assertTrue(
                    r.contains("base_model.model.bert.pooler.dense.weight"), r.keys().toString());
        }
        HeadConfig head = HeadConfig.read(adapter);
        assertEquals(new HeadConfig(Pooling.POOLER, List.of("animals", "markets"), 128), head);
        double reported =
                JsonIO.readObject(out.resolve("metrics.json")).get("test_accuracy").getAsDouble();
        assertEquals(reported, reloadedAccuracy(adapter, Pooling.POOLER), 1e-9);

        Path exported = tmp.resolve("exported");
        assertEquals(
                0,
                run(err, "export", "--adapter", adapter.toString(), "-o", exported.toString()),
                err.toString());
        JsonObject config = JsonIO.readObject(exported.resolve("config.json"));
        assertEquals("[\"BertForSequenceClassification\"]", config.get("architectures").toString());
        assertEquals("markets", config.getAsJsonObject("id2label").get("1").getAsString());
        PretrainedEncoder enc = PretrainedEncoder.ALL_MINILM_L6_V2;
        try (NDManager m = NDManager.newBaseManager()) {
            BertForSequenceClassification fresh =
                    new BertForSequenceClassification(enc.config(), 2, Pooling.POOLER);
            fresh.initialize(
                    m, DataType.FLOAT32, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1));
            HfWeights.load(fresh, exported.resolve("model.safetensors"), LoadOptions.strict());
            assertEquals(reported, validationAccuracy(fresh, m), 1e-9);
        }
    }

    /** A --config without the pooler in modules_to_save cannot train --pooling pooler. */
    @Test
    void poolerPoolingNeedsThePoolerInModulesToSave() throws Exception {
        Path train = jsonl("train.jsonl", 0, 6);
        Path config = tmp.resolve("adapter_config.json");
        Files.writeString(
                config,
                "{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"query\"],"
                        + " \"modules_to_save\": [\"classifier\"]}");
        StringWriter err = new StringWriter();
        int code =
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--config",
                        config.toString(),
                        "--pooling",
                        "pooler",
                        "-o",
                        tmp.resolve("never").toString());
        assertEquals(2, code);
        assertTrue(
                err.toString().contains(config.toString()) && err.toString().contains("pooler"),
                err.toString());
        assertTrue(!Files.exists(tmp.resolve("never")), "nothing written");
    }

    /**
     * Labels get class indices in order of first appearance in the training file, numbers too (a
     * sorted order would give {@code ["10", "9", "apple", "zebra"]}: numbers sort as strings); the
     * other files use the training file's indices, and a label it lacks names the file and line.
     */
    @Test
    void labelsAreNumberedInOrderOfFirstAppearance() throws Exception {
        Path train = tmp.resolve("labels.jsonl");
        Files.writeString(
                train,
                "{\"text\": \"a\", \"label\": \"zebra\"}\n"
                        + "{\"text\": \"b\", \"label\": 10}\n"
                        + "\n"
                        + "{\"text\": \"c\", \"label\": \"apple\"}\n"
                        + "{\"text\": \"d\", \"label\": 9}\n"
                        + "{\"text\": \"e\", \"label\": \"zebra\"}\n");
        List<String> labels = new ArrayList<>();
        List<TextExample> rows = TrainCommand.readJsonl(train, labels, true);
        assertEquals(List.of("zebra", "10", "apple", "9"), labels);
        assertEquals(List.of(0, 1, 2, 3, 0), rows.stream().map(TextExample::label).toList());
        Path test = tmp.resolve("labels-test.jsonl");
        Files.writeString(
                test, "{\"text\": \"f\", \"label\": 9}\n{\"text\": \"g\", \"label\": \"kiwi\"}\n");
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> TrainCommand.readJsonl(test, labels, false));
        assertTrue(
                e.getMessage().contains("labels-test.jsonl:2") && e.getMessage().contains("'kiwi'"),
                e.getMessage());
        assertEquals(List.of("zebra", "10", "apple", "9"), labels, "a test file adds no label");
    }

    /**
     * {@code --checkpoint-every} and {@code --resume}: a run stopped after 3 steps, resumed to 4
     * and then to 9 saves the same adapter, byte for byte, and the same validation history as a
     * run of 9 steps in one go.
     */
    @Test
    void aResumedRunSavesTheAdapterOfAnUninterruptedOne() throws Exception {
        Path train = jsonl("train.jsonl", 0, 6);
        Path val = jsonl("val.jsonl", 6, 8);
        Path whole = tmp.resolve("whole");
        Path parts = tmp.resolve("parts");
        StringWriter err = new StringWriter();
        // 12 examples in batches of 4: 3 steps an epoch
        assertEquals(0, run(err, resumeArgs(train, val, whole, 9, false)), err.toString());
        // stopped at an epoch's end, then in the middle of one
        assertEquals(0, run(err, resumeArgs(train, val, parts, 3, false)), err.toString());
        assertTrue(Files.isDirectory(parts.resolve("checkpoints/checkpoint-3")));
        assertEquals(0, run(err, resumeArgs(train, val, parts, 4, true)), err.toString());
        assertTrue(Files.isDirectory(parts.resolve("checkpoints/checkpoint-4")));
        assertEquals(0, run(err, resumeArgs(train, val, parts, 9, true)), err.toString());
        assertArrayEquals(
                Files.readAllBytes(whole.resolve("best-adapter/adapter_model.safetensors")),
                Files.readAllBytes(parts.resolve("best-adapter/adapter_model.safetensors")));
        JsonObject metrics =
                JsonParser.parseString(Files.readString(parts.resolve("metrics.json")))
                        .getAsJsonObject();
        assertEquals(9, metrics.get("steps").getAsInt());
        // the second run validated its cut-short epoch 2; the third dropped that entry and
        // validated epoch 2 again at its real end
        assertEquals(
                Files.readString(whole.resolve("validation.json")),
                Files.readString(parts.resolve("validation.json")));
        byte[] saved = Files.readAllBytes(parts.resolve("best-adapter/adapter_model.safetensors"));
        StringWriter refused = new StringWriter();
        assertEquals(2, run(refused, resumeArgs(train, val, parts, 9, false)), "a fresh run");
        assertTrue(refused.toString().contains("checkpoint-9"), refused.toString());
        assertArrayEquals(
                saved, Files.readAllBytes(parts.resolve("best-adapter/adapter_model.safetensors")));
        assertEquals(
                3,
                JsonParser.parseString(Files.readString(parts.resolve("validation.json")))
                        .getAsJsonObject()
                        .getAsJsonArray("accuracies")
                        .size());
    }

    private static String[] resumeArgs(Path train, Path val, Path out, int steps, boolean resume) {
        List<String> a =
                new ArrayList<>(
                        List.of(
                                "train",
                                "--train",
                                train.toString(),
                                "--validation",
                                val.toString(),
                                "--r",
                                "2",
                                "--epochs",
                                "3",
                                "--batch",
                                "4",
                                "--max-steps",
                                String.valueOf(steps),
                                "--checkpoint-every",
                                "2",
                                "-o",
                                out.toString()));
        if (resume) {
            a.add("--resume");
        }
        return a.toArray(new String[0]);
    }

    /** Without {@code --lr} a method trains at its own recommended rate (NOLA's is not LoRA's). */
    @Test
    void withoutLrTheMethodsRecommendedRateIsUsed() throws Exception {
        Path train = jsonl("train.jsonl", 0, 4);
        Path out = tmp.resolve("nola");
        StringWriter err = new StringWriter();
        int code =
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--method",
                        "nola",
                        "--set",
                        "num_basis_a=8",
                        "--set",
                        "num_basis_b=8",
                        "--set",
                        "nola_seed=1",
                        "--epochs",
                        "1",
                        "--max-steps",
                        "1",
                        "-o",
                        out.toString());
        assertEquals(0, code, err.toString());
        JsonObject metrics =
                JsonParser.parseString(Files.readString(out.resolve("metrics.json")))
                        .getAsJsonObject();
        assertEquals(
                NolaConfig.RECOMMENDED_LEARNING_RATE, metrics.get("learning_rate").getAsFloat());
        assertTrue(NolaConfig.RECOMMENDED_LEARNING_RATE != LoraConfig.RECOMMENDED_LEARNING_RATE);
    }

    @Test
    void badInputsAreOneClearLine() throws Exception {
        Path train = jsonl("train.jsonl", 0, 2);
        Path bad = tmp.resolve("bad.jsonl");
        Files.writeString(bad, "{\"text\": \"ok\", \"label\": \"animals\"}\n{not json\n");
        StringWriter err = new StringWriter();
        assertEquals(
                2, run(err, "train", "--train", bad.toString(), "-o", tmp.resolve("x").toString()));
        assertTrue(err.toString().contains("bad.jsonl:2"), err.toString());

        Path unknownLabel = tmp.resolve("val.jsonl");
        Files.writeString(unknownLabel, "{\"text\": \"hello\", \"label\": \"sports\"}\n");
        err = new StringWriter();
        assertEquals(
                2,
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--validation",
                        unknownLabel.toString(),
                        "-o",
                        tmp.resolve("x").toString()));
        assertTrue(
                err.toString().contains("sports") && err.toString().contains("animals"),
                err.toString());

        err = new StringWriter();
        assertEquals(
                2,
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--model",
                        "gpt-9",
                        "-o",
                        tmp.resolve("x").toString()));
        assertTrue(
                err.toString().contains("gpt-9") && err.toString().contains("all-minilm-l6-v2"),
                err.toString());

        err = new StringWriter();
        assertEquals(
                2,
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--method",
                        "foo",
                        "-o",
                        tmp.resolve("x").toString()));
        assertTrue(
                err.toString().contains("FOO") && err.toString().contains("LORA"), err.toString());

        err = new StringWriter();
        assertEquals(
                2,
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--r",
                        "0",
                        "-o",
                        tmp.resolve("x").toString()));
        assertTrue(err.toString().contains("rank"), err.toString());
        assertTrue(err.toString().contains("peft train options: "), err.toString());
        assertTrue(Files.notExists(tmp.resolve("x")));

        // a method's own validation names the config file it came from, in one line
        Path config = tmp.resolve("adapter_config.json");
        Files.writeString(
                config, "{\"peft_type\": \"LORA\", \"r\": 0, \"target_modules\": [\"query\"]}");
        err = new StringWriter();
        assertEquals(
                2,
                run(
                        err,
                        "train",
                        "--train",
                        train.toString(),
                        "--config",
                        config.toString(),
                        "-o",
                        tmp.resolve("x").toString()));
        assertTrue(
                err.toString().contains(config + ": ") && err.toString().contains("rank"),
                err.toString());
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
        assertTrue(Files.notExists(tmp.resolve("x")));
    }
}
