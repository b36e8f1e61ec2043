package dev.peft4j.models.onnx;

import ai.djl.ndarray.NDManager;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peft4j.core.testing.Refusals;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ONNX weight reader refuses any bad model cleanly, naming it ({@link Refusals}): the
 * protobuf wire format, the graph, the names and the tensor data are all under the fuzzer's
 * control, and every weight that opens is loaded. Corpus: {@code onnx_corpus.py} beside this test.
 */
class OnnxFuzzTest {

    private static final String ORIGIN = "fuzz.onnx";
    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    @FuzzTest(maxDuration = "60s")
    void weightsRefuseBadModelsCleanly(byte[] data) {
        Refusals.refusesCleanly(
                ORIGIN,
                () -> {
                    OnnxWeights weights = OnnxWeights.of(ByteBuffer.wrap(data), ORIGIN);
                    try (NDManager scope = manager.newSubManager()) {
                        for (String key : weights.keys()) {
                            weights.info(key);
                            weights.load(key, scope);
                        }
                    }
                });
    }

    @Test
    void seededMutationsOfTheCorpusAreRefusedCleanly() throws IOException {
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "weightsRefuseBadModelsCleanly"),
                20261204,
                this::weightsRefuseBadModelsCleanly);
    }
}
