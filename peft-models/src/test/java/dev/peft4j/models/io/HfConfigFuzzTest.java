package dev.peft4j.models.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.peft4j.core.testing.Refusals;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.llama.LlamaConfig;
import dev.peft4j.models.vit.ViTConfig;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Hugging Face {@code config.json} readers refuse any bad config cleanly, naming the file ({@link
 * Refusals}); a config they accept builds its model's shapes without an unchecked exception. The
 * corpus ({@code HfConfigFuzzTestInputs}) holds all-MiniLM-L6-v2's config and the test configs.
 */
class HfConfigFuzzTest {

    private static final String ORIGIN = "fuzz/config.json";

    private static String text(byte[] data) {
        return new String(data, StandardCharsets.UTF_8);
    }

    @FuzzTest(maxDuration = "60s")
    void bertConfigRefusesCleanly(byte[] data) {
        Refusals.refusesCleanly(
                ORIGIN, () -> BertConfig.read(new StringReader(text(data)), ORIGIN));
    }

    @FuzzTest(maxDuration = "60s")
    void llamaConfigRefusesCleanly(byte[] data) {
        Refusals.refusesCleanly(
                ORIGIN, () -> LlamaConfig.read(new StringReader(text(data)), ORIGIN));
    }

    @FuzzTest(maxDuration = "60s")
    void vitConfigRefusesCleanly(byte[] data) {
        Refusals.refusesCleanly(ORIGIN, () -> ViTConfig.read(new StringReader(text(data)), ORIGIN));
    }

    @Test
    void seededMutationsOfTheCorpusAreRefusedCleanly() throws IOException {
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "bertConfigRefusesCleanly"),
                1,
                this::bertConfigRefusesCleanly);
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "llamaConfigRefusesCleanly"),
                2,
                this::llamaConfigRefusesCleanly);
        Refusals.mutateCorpus(
                Refusals.corpus(getClass(), "vitConfigRefusesCleanly"),
                3,
                this::vitConfigRefusesCleanly);
    }
}
