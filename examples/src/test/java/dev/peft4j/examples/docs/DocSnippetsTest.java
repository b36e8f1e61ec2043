package dev.peft4j.examples.docs;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.OnnxEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.PoolingMode;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MergeOutput;
import dev.peft4j.merge.MergeReport;
import dev.peft4j.merge.ModelFolderOutput;
import dev.peft4j.merge.ties.Ties;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.export.ModelExport;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.TrainLoop;
import dev.peft4j.train.embedding.SentenceEncoder;
import dev.peft4j.train.text.TextBatcher;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextExample;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Java block of the README and of {@code docs/} is a region of this file, and runs here:
 * {@link #everyJavaBlockOfTheDocsIsARegionOfThisTest} fails when a block has no region or differs
 * from it, and the other tests run the regions (with assertions after them), so a snippet cannot
 * stop compiling or stop working without a failing test. See docs/contributing.md.
 */
class DocSnippetsTest {

    /** The project root (Surefire runs in the module folder). */
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private static final Path SELF =
            Path.of("src/test/java/dev/peft4j/examples/docs/DocSnippetsTest.java");

    private static final Pattern BLOCK =
            Pattern.compile(
                    "(?m)^(?:<!-- snippet: ([\\w-]+) -->\\n)?```java\\n(.*?)^```", Pattern.DOTALL);

    private static final Pattern REGION =
            Pattern.compile(
                    "(?m)^[ \\t]*// snippet: ([\\w-]+)\\n(.*?)^[ \\t]*// end snippet",
                    Pattern.DOTALL);

    @TempDir Path tmp;

    @Test
    void everyJavaBlockOfTheDocsIsARegionOfThisTest() throws IOException {
        Map<String, String> regions = new LinkedHashMap<>();
        Matcher r = REGION.matcher(Files.readString(SELF, StandardCharsets.UTF_8));
        while (r.find()) {
            regions.put(r.group(1), dedent(r.group(2)));
        }
        List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
            files.filter(f -> f.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        int blocks = 0;
        List<String> problems = new ArrayList<>();
        for (Path doc : docs) {
            String text = Files.readString(doc, StandardCharsets.UTF_8);
            Matcher b = BLOCK.matcher(text);
            while (b.find()) {
                blocks++;
                int line = text.substring(0, b.start()).split("\n", -1).length;
                String where = ROOT.relativize(doc) + ":" + line;
                String name = b.group(1);
                if (name == null) {
                    problems.add(where + ": a java block without a <!-- snippet: NAME --> line");
                } else if (!regions.containsKey(name)) {
                    problems.add(where + ": no region '// snippet: " + name + "' in " + SELF);
                } else if (!regions.get(name).equals(b.group(2))) {
                    problems.add(
                            where
                                    + ": block '"
                                    + name
                                    + "' differs from its region; the region reads:\n"
                                    + regions.get(name));
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(blocks >= 2, "the README and merging.md hold Java blocks; found " + blocks);
    }

    /** The README's example: LoRA on MiniLM, train, save, load, merge. */
    @Test
    void readmeExampleTrainsSavesLoadsAndMerges() throws Exception {
        Path dir = tmp.resolve("my-adapter");
        List<TextExample> train =
                List.of(
                        new TextExample("win a free prize, click now", 1),
                        new TextExample("are we still meeting for lunch?", 0),
                        new TextExample("cheap pills, no prescription needed", 1),
                        new TextExample("the minutes of monday's meeting are attached", 0));
        PretrainedEncoder encoder = PretrainedEncoder.ALL_MINILM_L6_V2;
        try (NDManager manager = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer = encoder.tokenizer(128);
                Model model = Model.newInstance("spam")) {
            // snippet: readme-example
            model.setBlock(encoder.loadForClassification(manager, encoder.weights(), 2));
            LoraConfig config =
                    LoraConfig.builder()
                            .optRank(8)
                            .optAlpha(16)
                            .setTargetModules("query", "value")
                            .optModulesToSave("classifier")
                            .build();
            PeftModel peft = PeftModel.create(model.getBlock(), config); // injects, freezes base
            System.out.println(peft.trainableSummary()); // trainable params: 74,498 || ...

            Loss loss = peft.trainingLoss(Loss.softmaxCrossEntropyLoss());
            DefaultTrainingConfig training =
                    new DefaultTrainingConfig(loss).optOptimizer(config.recommendedOptimizer());
            try (Trainer trainer = peft.newTrainer(model, training)) { // DJL's own Trainer
                TextBatcher batches = TextClassifiers.batches(train, tokenizer, 2, true, 42);
                TrainLoop.builder()
                        .setTrainer(trainer)
                        .setTrainData(batches)
                        .optEpochs(2)
                        .build()
                        .run();
            }
            peft.save(dir); // adapter_config.json + adapter_model.safetensors, PEFT's layout

            Block fresh = encoder.loadForClassification(manager, encoder.weights(), 2);
            PeftModel loaded = PeftModel.load(fresh, dir); // or a folder PEFT wrote
            Block merged = loaded.mergeAndUnload(); // a plain model: no adapter cost at inference
            // end snippet
            // 12 adapted 384 x 384 layers at r (in + out), plus the 2-class head
            assertEquals(12L * 8 * (384 + 384) + 2 * 384 + 2, peft.trainableParameterCount());
            TextBatcher eval = TextClassifiers.batches(train, tokenizer, 4, false, 1);
            NDArray trained =
                    TextClassifiers.collect(peft.root(), eval, manager, (o, d) -> o.head());
            NDArray reloaded = TextClassifiers.collect(merged, eval, manager, (o, d) -> o.head());
            assertAlmostEquals(reloaded, trained, 1e-4, 1e-5);
            Block base = encoder.loadForClassification(manager, encoder.weights(), 2);
            NDArray untrained = TextClassifiers.collect(base, eval, manager, (o, d) -> o.head());
            assertFalse(
                    untrained.allClose(trained, 1e-3, 1e-4, false), "training changed the model");
        }
    }

    /**
     * The README's embedding export: LangChain4j's OnnxEmbeddingModel loads the ONNX form of an
     * adapted MiniLM and embeds as our forward of the adapted model does.
     */
    @Test
    void readmeOnnxEmbedderLoadsInLangChain4j() throws Exception {
        PretrainedEncoder encoder = PretrainedEncoder.ALL_MINILM_L6_V2;
        Path onnx = tmp.resolve("onnx");
        String text = "How do I reset my password?";
        float[] ours;
        try (NDManager m = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer = encoder.tokenizer(encoder.maxSeqLength())) {
            BertModel bert = encoder.load(m, encoder.weights());
            PeftModel pm =
                    PeftModel.create(
                            bert,
                            LoraConfig.builder().optRank(4).setTargetModules("query").build());
            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 3);
            ours =
                    new SentenceEncoder(bert, 384, encoder.pooling(), true)
                            .encode(List.of(text), tokenizer, 1, m)[0];
            ModelExport.onnx(
                    (BertModel) pm.mergeAndUnload(),
                    encoder.weights(),
                    encoder.config(),
                    encoder.pooling(),
                    encoder.maxSeqLength(),
                    encoder.tokenizerJson(),
                    "test",
                    onnx);
        }
        // snippet: readme-onnx-embedder
        EmbeddingModel embedder =
                new OnnxEmbeddingModel(
                        onnx.resolve("model.onnx"),
                        onnx.resolve("tokenizer.json"),
                        PoolingMode.MEAN);
        Embedding embedding = embedder.embed("How do I reset my password?").content();
        // end snippet
        assertAlmostEquals(embedding.vector(), ours, 0, 1e-4);
    }

    /** docs/merging.md: TIES over two LoRA adapters of a tiny BERT, to a model folder. */
    @Test
    void mergingExampleWritesAModelFolder() throws Exception {
        BertConfig bert =
                BertConfig.parse(
                        "{\"vocab_size\": 30, \"hidden_size\": 8, \"num_hidden_layers\": 2,"
                                + " \"num_attention_heads\": 2, \"intermediate_size\": 16,"
                                + " \"max_position_embeddings\": 16}");
        Path baseDir = tmp.resolve("base");
        Path spamAdapter = tmp.resolve("spam");
        Path partyAdapter = tmp.resolve("party");
        Path outDir = tmp.resolve("merged");
        try (NDManager m = NDManager.newBaseManager()) {
            BertModel model = new BertModel(bert, false);
            model.initialize(m, DataType.FLOAT32, new Shape(1, 4));
            HfWeights.savePretrained(model, bert, baseDir);
            long seed = 1;
            for (Path adapter : List.of(spamAdapter, partyAdapter)) {
                BertModel fresh = new BertModel(bert, false);
                fresh.initialize(m, DataType.FLOAT32, new Shape(1, 4));
                HfWeights.load(fresh, baseDir, LoadOptions.strict());
                PeftModel pm =
                        PeftModel.create(
                                fresh,
                                LoraConfig.builder().optRank(2).setTargetModules("query").build());
                AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, seed++);
                pm.save(adapter);
            }
        }
        // snippet: merge-ties
        try (CheckpointReader base = CheckpointReader.open(baseDir);
                Candidate spam = Candidate.open(spamAdapter, "spam", base);
                Candidate party = Candidate.open(partyAdapter, "party", base);
                MergeOutput out =
                        ModelFolderOutput.builder()
                                .setDirectory(outDir)
                                .optCopyFilesFrom(baseDir)
                                .build()) {
            MergeReport report =
                    Ties.builder()
                            .optK(0.2)
                            .optLambda(1)
                            .build()
                            .merge(base, List.of(spam, party), out);
            report.summaryLines().forEach(System.out::println);
        }
        // end snippet
        assertTrue(Files.isRegularFile(outDir.resolve("config.json")));
        try (CheckpointReader base = CheckpointReader.open(baseDir);
                CheckpointReader merged = CheckpointReader.open(outDir);
                NDManager m = NDManager.newBaseManager()) {
            assertEquals(base.keys(), merged.keys());
            String query = "encoder.layer.0.attention.self.query.weight";
            String key = "encoder.layer.0.attention.self.key.weight";
            assertFalse(base.load(query, m).allClose(merged.load(query, m)), "query was merged");
            assertTrue(
                    base.load(key, m).contentEquals(merged.load(key, m)),
                    "an unadapted tensor is the base's");
        }
    }

    /** Removes the region's common indentation; lines keep their newline. */
    private static String dedent(String region) {
        String[] lines = region.split("\n", -1);
        int indent = Integer.MAX_VALUE;
        for (String line : lines) {
            if (!line.isBlank()) {
                indent = Math.min(indent, line.length() - line.stripLeading().length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < lines.length - 1; i++) {
            String line = lines[i];
            out.append(line.isBlank() ? "" : line.substring(indent)).append('\n');
        }
        return out.toString();
    }
}
