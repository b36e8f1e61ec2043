package dev.peft4j.train.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Record;
import dev.peft4j.models.pretrained.PretrainedEncoder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TextBatcherTest {

    private static final long CLS = 101;
    private static final long SEP = 102;
    private static final List<TextExample> EXAMPLES =
            List.of(
                    new TextExample("Hello world.", 0),
                    new TextExample(
                            "The quick brown fox jumps over the lazy dog near the river bank.", 1),
                    new TextExample("Spam!", 1),
                    new TextExample("word ".repeat(200), 0),
                    new TextExample("Parameter-efficient fine-tuning trains few weights.", 1));

    private static HuggingFaceTokenizer tokenizer;

    @BeforeAll
    static void loadTokenizer() {
        tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(128);
    }

    @AfterAll
    static void closeTokenizer() {
        tokenizer.close();
    }

    private static TextBatcher batcher(
            List<TextExample> examples,
            int batchSize,
            boolean shuffle,
            long seed,
            HuggingFaceTokenizer tok) {
        return TextBatcher.builder()
                .setExamples(examples)
                .setTokenizer(tok)
                .setBatching(batchSize, shuffle, seed)
                .build();
    }

    @Test
    void batchesArePaddedToTheirLongestSequenceWithMaskZeroOnPadding() {
        TextBatcher data = batcher(EXAMPLES, 2, false, 0, tokenizer);
        try (NDManager manager = NDManager.newBaseManager()) {
            int start = 0;
            for (Batch batch : data.getData(manager)) {
                try (batch) {
                    checkBatch(batch, EXAMPLES.subList(start, start + batch.getSize()));
                    start += batch.getSize();
                }
            }
            assertEquals(EXAMPLES.size(), start);
        }
    }

    /** Compares a batch against the texts encoded one by one, and checks the padding layout. */
    private static void checkBatch(Batch batch, List<TextExample> expected) {
        NDList data = batch.getData();
        assertEquals(3, data.size());
        List<long[]> ids = new ArrayList<>();
        for (TextExample example : expected) {
            ids.add(tokenizer.encode(example.text()).getIds());
        }
        int t = ids.stream().mapToInt(a -> a.length).max().orElseThrow();
        for (NDArray array : data) {
            assertEquals(new Shape(expected.size(), t), array.getShape());
            assertEquals(DataType.INT64, array.getDataType());
        }
        long[] inputIds = data.get(0).toLongArray();
        long[] mask = data.get(1).toLongArray();
        long[] types = data.get(2).toLongArray();
        for (int row = 0; row < expected.size(); row++) {
            for (int j = 0; j < t; j++) {
                boolean real = j < ids.get(row).length;
                assertEquals(real ? ids.get(row)[j] : 0L, inputIds[row * t + j]);
                assertEquals(real ? 1L : 0L, mask[row * t + j], "mask at " + row + "," + j);
                assertEquals(0L, types[row * t + j]);
            }
        }
        NDArray labels = batch.getLabels().singletonOrThrow();
        assertEquals(new Shape(expected.size()), labels.getShape());
        assertArrayEquals(
                expected.stream().mapToLong(TextExample::label).toArray(), labels.toLongArray());
    }

    @Test
    void truncationRespectsTheMaximalLength() {
        try (HuggingFaceTokenizer short16 = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(16)) {
            TextBatcher data = batcher(EXAMPLES, 5, false, 0, short16);
            for (int i = 0; i < EXAMPLES.size(); i++) {
                long[] ids = data.tokenIds(i);
                assertTrue(ids.length <= 16, "length " + ids.length);
                assertEquals(CLS, ids[0]);
                assertEquals(SEP, ids[ids.length - 1]);
            }
            assertEquals(16, data.tokenIds(3).length, "200 words are cut to 16 tokens");
            try (NDManager manager = NDManager.newBaseManager();
                    Batch batch = data.batch(manager, List.of(0L, 1L, 2L, 3L, 4L))) {
                assertEquals(new Shape(5, 16), batch.getData().get(0).getShape());
            }
        }
    }

    @Test
    void decodeOfEncodeIsTheLowercasedWhitespaceNormalizedText() {
        List<String> sentences =
                List.of(
                        "Hello   World, this is a TEST.",
                        "The Quick brown fox\tjumps over the lazy dog!",
                        "  PEFT adapters train\n fast?");
        for (String s : sentences) {
            long[] ids = tokenizer.encode(s).getIds();
            String normalized = s.strip().replaceAll("\\s+", " ").toLowerCase();
            assertEquals(normalized, tokenizer.decode(ids, true));
        }
    }

    @Test
    void shufflingIsSeededAndDiffersBetweenEpochs() {
        List<TextExample> many = new ArrayList<>();
        for (int i = 0; i < 23; i++) {
            many.add(new TextExample("sentence number " + i, i % 2));
        }
        TextBatcher a = batcher(many, 5, true, 11, tokenizer);
        TextBatcher b = batcher(many, 5, true, 11, tokenizer);
        try (NDManager manager = NDManager.newBaseManager()) {
            List<Long> a0 = epoch(a, manager);
            List<Long> a1 = epoch(a, manager);
            assertEquals(a0, epoch(b, manager), "same seed, same first epoch");
            assertEquals(a1, epoch(b, manager), "same seed, same second epoch");
            assertNotEquals(a0, a1, "epochs are reshuffled");
            for (List<Long> order : List.of(a0, a1)) {
                assertEquals(
                        IntStream.range(0, 23).boxed().map(Long::valueOf).toList(),
                        order.stream().sorted().toList(),
                        "an epoch visits every example once");
            }
            assertNotEquals(a0, epoch(batcher(many, 5, true, 12, tokenizer), manager));
        }
    }

    /** Runs one epoch, checks the fixed batch size, and returns the visiting order. */
    private static List<Long> epoch(TextBatcher data, NDManager manager) {
        List<Long> order = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        for (Batch batch : data.getData(manager)) {
            try (batch) {
                sizes.add(batch.getSize());
                batch.getIndices().forEach(i -> order.add((Long) i));
            }
        }
        assertEquals(List.of(5, 5, 5, 5, 3), sizes);
        return order;
    }

    @Test
    void batchArraysBelongToTheBatchAndAreFreedWithIt() {
        TextBatcher data = batcher(EXAMPLES, 5, false, 0, tokenizer);
        try (NDManager manager = NDManager.newBaseManager()) {
            Batch batch = data.batch(manager, List.of(0L, 1L));
            List<NDArray> arrays = new ArrayList<>(batch.getData());
            arrays.addAll(batch.getLabels());
            for (NDArray array : arrays) {
                assertEquals(batch.getManager(), array.getManager());
            }
            batch.close();
            assertTrue(arrays.stream().allMatch(NDArray::isReleased));
        }
    }

    @Test
    void singleRecordIsUnpadded() {
        TextBatcher data = batcher(EXAMPLES, 2, false, 0, tokenizer);
        try (NDManager manager = NDManager.newBaseManager()) {
            Record record = data.get(manager, 2);
            long[] ids = tokenizer.encode("Spam!").getIds();
            assertArrayEquals(ids, record.getData().get(0).toLongArray());
            assertArrayEquals(new long[ids.length], record.getData().get(2).toLongArray());
            assertEquals(1L, record.getLabels().singletonOrThrow().getLong());
        }
    }

    @Test
    void incompleteBuilderIsRejected() {
        IllegalStateException e =
                assertThrows(
                        IllegalStateException.class,
                        () ->
                                TextBatcher.builder()
                                        .setExamples(EXAMPLES)
                                        .setTokenizer(tokenizer)
                                        .build());
        assertTrue(e.getMessage().contains("setBatching"), e.getMessage());
    }
}
