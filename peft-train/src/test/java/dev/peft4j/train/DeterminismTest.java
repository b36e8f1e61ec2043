package dev.peft4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterCheckpoint;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import dev.peft4j.train.text.FineTuneRun;
import dev.peft4j.train.text.TextExample;
import dev.peft4j.train.text.TextSplits;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training is reproducible bit for bit: a small BERT classifier with dropout, LoRA (with its own
 * dropout) on query and value and a trained head, fine-tuned by {@link FineTuneRun} itself (its
 * batching, scoping, saving), gives the same adapter file
 *
 * <ul>
 *   <li>twice in one JVM,
 *   <li>with the diagnostic mode on ({@link Diagnostics}: a garbage collection before every
 *       backward pass frees every direct buffer whose array was closed during the forward pass),
 *       which is what exposed the cause: DJL's {@code x.mul(Number)} scalars, read by backward
 *       after the collector freed them,
 *   <li>and in a second JVM with a small heap (frequent collections) while two CPU-bound threads
 *       run beside it.
 * </ul>
 */
class DeterminismTest {

    /** Steps of each run: several epochs of the 40 training texts in batches of 8. */
    static final int STEPS = 40;

    @TempDir Path tmp;

    @Test
    void trainingGivesTheSameAdapterBitForBitWhateverTheGarbageCollectorDoes() throws Exception {
        byte[] first = train(tmp.resolve("first"));
        byte[] second = train(tmp.resolve("second"));
        assertArrayEquals(first, second, "twice in one JVM");

        byte[] diagnosed;
        System.setProperty(Diagnostics.PROPERTY, "true");
        try {
            diagnosed = train(tmp.resolve("diagnosed"));
        } finally {
            System.clearProperty(Diagnostics.PROPERTY);
        }
        assertArrayEquals(first, diagnosed, "with a collection before every backward pass");

        Path child = tmp.resolve("child");
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> load = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Thread t = new Thread(() -> spin(stop), "cpu-load-" + i);
            t.setDaemon(true);
            t.start();
            load.add(t);
        }
        try {
            Process p =
                    new ProcessBuilder(
                                    Path.of(System.getProperty("java.home"), "bin", "java")
                                            .toString(),
                                    "-Xmx160m",
                                    "-cp",
                                    System.getProperty("java.class.path"),
                                    Child.class.getName(),
                                    child.toString())
                            .redirectErrorStream(true)
                            .redirectOutput(tmp.resolve("child.log").toFile())
                            .start();
            assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the child JVM finished");
            assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("child.log")));
        } finally {
            stop.set(true);
            for (Thread t : load) {
                t.join();
            }
        }
        assertArrayEquals(first, weights(child), "in another JVM, under load, with a small heap");
    }

    private static void spin(AtomicBoolean stop) {
        long x = 1;
        while (!stop.get()) {
            x = x * 6364136223846793005L + 1442695040888963407L;
        }
        if (x == 42) {
            System.out.println(x);
        }
    }

    /** Trains and returns the saved adapter's safetensors bytes. */
    static byte[] train(Path out) throws IOException {
        BertConfig config =
                BertConfig.parse(
                        "{\"vocab_size\": 30522, \"hidden_size\": 32, \"num_hidden_layers\": 2,"
                                + " \"num_attention_heads\": 2, \"intermediate_size\": 64,"
                                + " \"max_position_embeddings\": 64, \"hidden_dropout_prob\": 0.1,"
                                + " \"attention_probs_dropout_prob\": 0.1}");
        // seeded on the host, so that the reload for the test accuracy gets the same base
        FineTuneRun.ModelFactory factory =
                (manager, labels) -> {
                    BertForSequenceClassification m =
                            new BertForSequenceClassification(config, labels, Pooling.MEAN);
                    TinyModels.init(m, manager, new Shape(1, 8), 17);
                    return m;
                };
        LoraConfig lora =
                LoraConfig.builder()
                        .optRank(4)
                        .optAlpha(8)
                        .optDropout(0.1)
                        .setTargetModules("query", "value")
                        .optModulesToSave("classifier")
                        .build();
        FineTuneRun.Settings s =
                new FineTuneRun.Settings(8, 100, STEPS, 1e-2f, 42, Integer.MAX_VALUE, false);
        try (HuggingFaceTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(32)) {
            FineTuneRun.run(
                    "determinism", factory, splits(), tokenizer, FineTuneRun.inject(lora), s, out);
        }
        return weights(out);
    }

    private static byte[] weights(Path out) throws IOException {
        return Files.readAllBytes(
                out.resolve("best-adapter").resolve(AdapterCheckpoint.WEIGHTS_FILE));
    }

    private static TextSplits splits() {
        String[] words = {"free", "money", "meeting", "report", "prize", "lunch", "click", "notes"};
        List<TextExample> all = new ArrayList<>();
        for (int i = 0; i < 48; i++) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j <= i % 7; j++) {
                sb.append(words[(i * 3 + j * 5) % words.length]).append(' ');
            }
            all.add(new TextExample(sb.toString().strip(), (i * 7) % 3 == 0 ? 1 : 0));
        }
        Map<String, List<TextExample>> m = new LinkedHashMap<>();
        m.put(TextSplits.TRAIN, all.subList(0, 40));
        m.put(TextSplits.VALIDATION, all.subList(40, 44));
        m.put(TextSplits.TEST, all.subList(44, 48));
        return new TextSplits("determinism", List.of("ham", "spam"), m);
    }

    /** The second JVM's run: trains into the folder given as the argument. */
    public static final class Child {
        public static void main(String[] args) throws IOException {
            System.setOut(new PrintStream(System.out, true));
            train(Path.of(args[0]));
        }
    }
}
