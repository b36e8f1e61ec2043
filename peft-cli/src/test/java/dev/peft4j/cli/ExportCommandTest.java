package dev.peft4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.AtomicFiles;
import dev.peft4j.core.io.JsonIO;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.testing.NdAssert;
import dev.peft4j.models.bert.BertModel;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.export.HeadConfig;
import dev.peft4j.models.onnx.OnnxWeights;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.embedding.SentenceEncoder;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code peft export} writes folders that transformers and sentence-transformers load with no
 * missing or unexpected weights and that compute there what the model computed here.
 *
 * <p>The expected side is {@code export/reference.json}, written by {@code export_reference.py}
 * beside this test: a NumPy transcription of transformers' BERT forward, tokenizer and weight
 * loading and of sentence-transformers' modules, run on the exported files alone (see the script
 * for how to regenerate it). This test builds each adapter from seeded values (so the exported
 * files are the ones the script read), computes the model's outputs here with the adapter
 * unmerged, exports it, and compares: token ids from our tokenizer, every file's tensor names,
 * and the outputs (1e-4).
 */
class ExportCommandTest {

    static final List<String> SENTENCES =
            List.of(
                    "The cat sat on the mat.",
                    "Stocks FELL sharply after the central bank raised rates, again!",
                    "unaffordable naïve café");

    private static final PretrainedEncoder ENC = PretrainedEncoder.ALL_MINILM_L6_V2;
    private static final List<String> LABELS = List.of("animals", "markets", "sports");
    private static final int MAX_LENGTH = 128;

    private static JsonObject reference;
    private static OnnxWeights weights;

    @TempDir Path tmp;

    @BeforeAll
    static void readReference() throws IOException {
        weights = ENC.weights();
        try (InputStream in =
                ExportCommandTest.class.getResourceAsStream("export/reference.json")) {
            if (in == null && System.getProperty("peft4j.exportReferenceDir") != null) {
                return; // writing the exports the reference is made from
            }
            reference =
                    JsonParser.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                            .getAsJsonObject();
        }
    }

    /** Where to keep the exports for export_reference.py ({@code -Dpeft4j.exportReferenceDir}). */
    private Path exportDir(String name) throws IOException {
        String keep = System.getProperty("peft4j.exportReferenceDir");
        Path root = keep != null ? Path.of(keep) : tmp;
        Files.createDirectories(root);
        if (keep != null) {
            JsonArray s = new JsonArray();
            SENTENCES.forEach(s::add);
            JsonIO.writeSorted(root.resolve("sentences.json"), wrap("sentences", s));
            AtomicFiles.deleteRecursively(root.resolve(name)); // the previous run's export
        }
        return root.resolve(name);
    }

    @Test
    void aMeanPooledHeadExportsAsASentenceTransformersClassifier() throws Exception {
        Path adapter = classifierAdapter(Pooling.MEAN, 11);
        float[][] here = outputs(adapter, Pooling.MEAN, true);
        Path out = exportDir("mean-head");
        assertEquals(0, export(adapter, out), "export");
        assertMatchesReference("mean-head", out, here);
        JsonObject config = JsonIO.readObject(out.resolve("config.json"));
        assertEquals("BertModel", config.getAsJsonArray("architectures").get(0).getAsString());
        assertLabels(config);
    }

    @Test
    void aPoolerHeadExportsAsTransformersBertForSequenceClassification() throws Exception {
        Path adapter = classifierAdapter(Pooling.POOLER, 12);
        float[][] here = outputs(adapter, Pooling.POOLER, true);
        Path out = exportDir("pooler-head");
        assertEquals(0, export(adapter, out), "export");
        assertMatchesReference("pooler-head", out, here);
        JsonObject config = JsonIO.readObject(out.resolve("config.json"));
        assertEquals(
                "BertForSequenceClassification",
                config.getAsJsonArray("architectures").get(0).getAsString());
        assertEquals("float32", config.get("torch_dtype").getAsString());
        assertLabels(config);
        // and the same head as a sentence-transformers pipeline: Pooling cls, Dense tanh, Dense
        Path st = exportDir("pooler-head-st");
        assertEquals(0, export(adapter, st, "--format", "sentence-transformers"), "export");
        assertMatchesReference("pooler-head-st", st, here);
    }

    @Test
    void anEncoderAdapterExportsAsTheBasesSentenceTransformersPipeline() throws Exception {
        Path adapter = encoderAdapter(13);
        float[][] here = outputs(adapter, null, false);
        Path out = exportDir("encoder");
        assertEquals(0, export(adapter, out), "export");
        assertMatchesReference("encoder", out, here);
    }

    /**
     * The ONNX and safetensors forms of an encoder adapter read back into our encoder give the
     * adapted model's embeddings (ONNX Runtime and LangChain4j run the ONNX form in peft-train's
     * OnnxExportTest); the safetensors form exported again with {@code --weights} gives the same
     * ONNX file byte for byte; a classifier has no ONNX form.
     */
    @Test
    void anEncoderExportsAsOnnxAndSafetensorsThatReadBackAsTheAdaptedModel() throws Exception {
        Path adapter = encoderAdapter(16);
        float[][] here = outputs(adapter, null, false);
        Path onnx = tmp.resolve("onnx");
        StringWriter err = new StringWriter();
        assertEquals(0, export(err, adapter, onnx, "--format", "onnx"), err.toString());
        assertTrue(Files.isRegularFile(onnx.resolve("tokenizer.json")));
        JsonObject pooling = JsonIO.readObject(onnx.resolve("1_Pooling/config.json"));
        assertTrue(pooling.get("pooling_mode_mean_tokens").getAsBoolean());
        Path st = tmp.resolve("safetensors");
        assertEquals(0, export(err, adapter, st, "--format", "safetensors"), err.toString());
        JsonObject config = JsonIO.readObject(st.resolve("config.json"));
        assertEquals("BertModel", config.getAsJsonArray("architectures").get(0).getAsString());
        for (Path read : List.of(onnx.resolve("model.onnx"), st.resolve("model.safetensors"))) {
            try (NDManager m = NDManager.newBaseManager();
                    HuggingFaceTokenizer tokenizer = ENC.tokenizer(MAX_LENGTH)) {
                BertModel bert = ENC.load(m, weights);
                if (read.toString().endsWith(".onnx")) {
                    bert = ENC.load(m, ENC.weights(read));
                } else {
                    PretrainedEncoder.loadFineTuned(bert, read);
                }
                float[][] back =
                        new SentenceEncoder(bert, 384, Pooling.MEAN, true)
                                .encode(SENTENCES, tokenizer, 8, m);
                for (int i = 0; i < SENTENCES.size(); i++) {
                    NdAssert.assertAlmostEquals(back[i], here[i], 0, 1e-5);
                }
            }
        }
        Path again = tmp.resolve("onnx-again");
        var cl = PeftCli.commandLine();
        cl.setErr(new PrintWriter(err));
        int code =
                cl.execute(
                        "export",
                        "--weights",
                        st.resolve("model.safetensors").toString(),
                        "--format",
                        "onnx",
                        "-o",
                        again.toString());
        assertEquals(0, code, err.toString());
        assertArrayEquals(
                Files.readAllBytes(onnx.resolve("model.onnx")),
                Files.readAllBytes(again.resolve("model.onnx")));
        StringWriter refused = new StringWriter();
        Path head = classifierAdapter(Pooling.MEAN, 17);
        assertEquals(2, export(refused, head, tmp.resolve("no"), "--format", "onnx"));
        assertTrue(refused.toString().contains("no classifier head"), refused.toString());
        assertTrue(Files.notExists(tmp.resolve("no")));
    }

    @Test
    void aMeanPooledHeadIsNotWrittenAsTransformersSequenceClassification() throws Exception {
        Path adapter = classifierAdapter(Pooling.MEAN, 14);
        Path out = tmp.resolve("refused");
        StringWriter err = new StringWriter();
        assertEquals(2, export(err, adapter, out, "--format", "transformers"));
        assertTrue(err.toString().contains("mean pooling"), err.toString());
        assertTrue(!Files.exists(out), "nothing written");
        // and a head config that disagrees with --pooling is refused
        StringWriter err2 = new StringWriter();
        assertEquals(2, export(err2, adapter, out, "--pooling", "cls"));
        assertTrue(err2.toString().contains(HeadConfig.FILE), err2.toString());
    }

    @Test
    void anAdapterWithoutHeadConfigNeedsPooling() throws Exception {
        Path adapter = classifierAdapter(Pooling.MEAN, 15);
        Files.delete(adapter.resolve(HeadConfig.FILE));
        StringWriter err = new StringWriter();
        assertEquals(2, export(err, adapter, tmp.resolve("out")));
        assertTrue(err.toString().contains("--pooling"), err.toString());
        StringWriter ok = new StringWriter();
        assertEquals(
                0, export(ok, adapter, tmp.resolve("out"), "--pooling", "mean"), ok.toString());
        JsonObject config = JsonIO.readObject(tmp.resolve("out/config.json"));
        assertEquals("LABEL_2", config.getAsJsonObject("id2label").get("2").getAsString());
        // a second export into the same folder needs --force
        byte[] before = Files.readAllBytes(tmp.resolve("out/config.json"));
        StringWriter again = new StringWriter();
        assertEquals(2, export(again, adapter, tmp.resolve("out"), "--pooling", "mean"));
        assertTrue(again.toString().contains("--force"), again.toString());
        assertArrayEquals(before, Files.readAllBytes(tmp.resolve("out/config.json")));
        String[] relabel = {"--pooling", "mean", "--labels", "a,b,c", "--force"};
        assertEquals(0, export(again, adapter, tmp.resolve("out"), relabel), again.toString());
        config = JsonIO.readObject(tmp.resolve("out/config.json"));
        assertEquals("c", config.getAsJsonObject("id2label").get("2").getAsString());
    }

    /** A LoRA adapter without head on query, value and the dense layers, seeded. */
    private Path encoderAdapter(long seed) throws IOException {
        Path adapter = tmp.resolve("encoder-adapter-" + seed);
        try (NDManager m = NDManager.newBaseManager()) {
            PeftModel pm =
                    PeftModel.create(
                            ENC.load(m, weights),
                            LoraConfig.builder()
                                    .optRank(4)
                                    .setTargetModules("query", "value", "dense")
                                    .build());
            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, seed);
            pm.save(adapter);
        }
        return adapter;
    }

    /** A LoRA adapter with a trained head (and pooler), seeded, with its head config. */
    private Path classifierAdapter(Pooling pooling, long seed) throws IOException {
        Path adapter = tmp.resolve("adapter-" + seed);
        try (NDManager m = NDManager.newBaseManager()) {
            PeftModel pm =
                    PeftModel.create(
                            ENC.loadForClassification(m, weights, LABELS.size(), pooling),
                            LoraConfig.builder()
                                    .optRank(4)
                                    .setTargetModules("query", "value")
                                    .optModulesToSave(
                                            pooling == Pooling.POOLER
                                                    ? new String[] {"classifier", "pooler"}
                                                    : new String[] {"classifier"})
                                    .build());
            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, seed);
            SplittableRandom rnd = new SplittableRandom(seed);
            for (Block b : pm.modulesToSave(PeftModel.DEFAULT).values()) {
                for (Pair<String, Parameter> p : b.getParameters()) {
                    float[] v = new float[(int) p.getValue().getArray().size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) ((rnd.nextDouble() - 0.5) * 0.4);
                    }
                    p.getValue().getArray().set(v);
                }
            }
            pm.save(adapter);
            new HeadConfig(pooling, LABELS, MAX_LENGTH).write(adapter);
        }
        return adapter;
    }

    /**
     * The outputs here, the adapter unmerged, on the sentences padded into one batch: logits, or
     * for an encoder the L2-normalized sentence embeddings.
     */
    private static float[][] outputs(Path adapter, Pooling pooling, boolean head)
            throws IOException {
        try (NDManager m = NDManager.newBaseManager();
                HuggingFaceTokenizer tokenizer = ENC.tokenizer(MAX_LENGTH)) {
            Block base =
                    head
                            ? ENC.loadForClassification(m, weights, LABELS.size(), pooling)
                            : ENC.load(m, weights);
            PeftModel pm = PeftModel.load(base, adapter);
            List<long[]> ids = new ArrayList<>();
            int longest = 0;
            for (String s : SENTENCES) {
                Encoding e = tokenizer.encode(s);
                ids.add(e.getIds());
                longest = Math.max(longest, e.getIds().length);
            }
            long[] flat = new long[SENTENCES.size() * longest];
            long[] mask = new long[flat.length];
            for (int i = 0; i < ids.size(); i++) {
                for (int j = 0; j < ids.get(i).length; j++) {
                    flat[i * longest + j] = ids.get(i)[j];
                    mask[i * longest + j] = 1;
                }
            }
            Shape shape = new Shape(SENTENCES.size(), longest);
            NDArray idArray = m.create(flat, shape);
            NDArray maskArray = m.create(mask, shape);
            NDList in = new NDList(idArray, maskArray, m.zeros(shape, idArray.getDataType()));
            NDList out = pm.root().forward(new ParameterStore(m, false), in, false);
            NDArray result = head ? out.head() : normalize(Pooling.mean(out.head(), maskArray));
            float[][] rows = new float[SENTENCES.size()][];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = result.get(i).toFloatArray();
            }
            return rows;
        }
    }

    private static NDArray normalize(NDArray x) {
        return x.div(x.square().sum(new int[] {1}, true).sqrt());
    }

    private void assertMatchesReference(String name, Path out, float[][] here) throws Exception {
        if (reference == null) {
            return; // -Dpeft4j.exportReferenceDir without a reference yet
        }
        List<String> sentences = new ArrayList<>();
        reference.getAsJsonArray("sentences").forEach(e -> sentences.add(e.getAsString()));
        assertEquals(SENTENCES, sentences, "the reference was made for these sentences");
        JsonObject c = reference.getAsJsonObject("cases").getAsJsonObject(name);
        // the files and the tensor names transformers and sentence-transformers expect
        for (Map.Entry<String, JsonElement> f : c.getAsJsonObject("tensors").entrySet()) {
            TreeSet<String> expected = new TreeSet<>();
            f.getValue().getAsJsonArray().forEach(k -> expected.add(k.getAsString()));
            try (SafetensorsReader r = SafetensorsReader.open(out.resolve(f.getKey()))) {
                assertEquals(expected, new TreeSet<>(r.keys()), name + ": " + f.getKey());
            }
        }
        // the export is the one the reference computed from: the same JSON files, tokenizer
        // files and tensors (sum and sum of squares; merged weights may differ in the last bit)
        for (Map.Entry<String, JsonElement> f : c.getAsJsonObject("json").entrySet()) {
            JsonElement written =
                    JsonParser.parseString(
                            Files.readString(out.resolve(f.getKey()), StandardCharsets.UTF_8));
            assertEquals(f.getValue(), written, name + ": " + f.getKey());
        }
        for (Map.Entry<String, JsonElement> f : c.getAsJsonObject("sha256").entrySet()) {
            assertEquals(
                    f.getValue().getAsString(),
                    sha256(out.resolve(f.getKey())),
                    name + ": " + f.getKey());
        }
        for (Map.Entry<String, JsonElement> f : c.getAsJsonObject("sums").entrySet()) {
            try (SafetensorsReader r = SafetensorsReader.open(out.resolve(f.getKey()));
                    NDManager m = NDManager.newBaseManager()) {
                for (Map.Entry<String, JsonElement> t : f.getValue().getAsJsonObject().entrySet()) {
                    double sum = 0;
                    double squares = 0;
                    for (float v : r.load(t.getKey(), m).toFloatArray()) {
                        sum += v;
                        squares += (double) v * v;
                    }
                    JsonArray ref = t.getValue().getAsJsonArray();
                    String what = name + ": " + f.getKey() + " " + t.getKey();
                    assertEquals(ref.get(0).getAsDouble(), sum, 1e-6 * (1 + squares), what);
                    assertEquals(ref.get(1).getAsDouble(), squares, 1e-6 * (1 + squares), what);
                }
            }
        }
        TreeSet<String> files = new TreeSet<>();
        try (Stream<Path> walk = Files.walk(out)) {
            walk.filter(Files::isRegularFile)
                    .forEach(p -> files.add(out.relativize(p).toString().replace('\\', '/')));
        }
        TreeSet<String> expectedFiles = new TreeSet<>();
        c.getAsJsonArray("files").forEach(f -> expectedFiles.add(f.getAsString()));
        assertEquals(expectedFiles, files, name + ": files");
        // the reference tokenizer (from vocab.txt and tokenizer_config.json) gives our ids
        try (HuggingFaceTokenizer tokenizer = ENC.tokenizer(MAX_LENGTH)) {
            JsonArray refIds = c.getAsJsonArray("input_ids");
            for (int i = 0; i < SENTENCES.size(); i++) {
                long[] ours = tokenizer.encode(SENTENCES.get(i)).getIds();
                JsonArray theirs = refIds.get(i).getAsJsonArray();
                assertEquals(theirs.size(), ours.length, name + ": sentence " + i);
                for (int j = 0; j < ours.length; j++) {
                    assertEquals(theirs.get(j).getAsLong(), ours[j], name + ": token " + j);
                }
            }
        }
        JsonArray expected = c.getAsJsonArray("outputs");
        for (int i = 0; i < here.length; i++) {
            JsonArray row = expected.get(i).getAsJsonArray();
            assertEquals(row.size(), here[i].length, name + ": output size");
            for (int j = 0; j < here[i].length; j++) {
                assertEquals(
                        row.get(j).getAsDouble(),
                        here[i][j],
                        1e-4,
                        name + ": sentence " + i + ", output " + j);
            }
        }
    }

    private static String sha256(Path file) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        return HexFormat.of().formatHex(digest);
    }

    private static void assertLabels(JsonObject config) {
        for (int i = 0; i < LABELS.size(); i++) {
            assertEquals(
                    LABELS.get(i),
                    config.getAsJsonObject("id2label").get(Integer.toString(i)).getAsString());
            assertEquals(i, config.getAsJsonObject("label2id").get(LABELS.get(i)).getAsInt());
        }
    }

    private static JsonObject wrap(String key, JsonElement value) {
        JsonObject o = new JsonObject();
        o.add(key, value);
        return o;
    }

    private static int export(Path adapter, Path out, String... more) {
        return export(new StringWriter(), adapter, out, more);
    }

    private static int export(StringWriter err, Path adapter, Path out, String... more) {
        List<String> args =
                new ArrayList<>(
                        List.of("export", "--adapter", adapter.toString(), "-o", out.toString()));
        args.addAll(List.of(more));
        var cl = PeftCli.commandLine();
        cl.setErr(new PrintWriter(err));
        return cl.execute(args.toArray(new String[0]));
    }
}
