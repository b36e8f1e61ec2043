package dev.peft4j.examples.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.PeftModel;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.train.TrainLoop;
import dev.peft4j.train.text.TextBatcher;
import dev.peft4j.train.text.TextClassifiers;
import dev.peft4j.train.text.TextExample;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every method of the comparison injects into the real MiniLM at its stated budget and trains. */
class MethodsTest {

    /** Trainable parameters on MiniLM's 12 query/value layers (384 x 384) plus the 2-class head (770). */
    private static final Map<String, Long> EXPECTED =
            Map.of(
                    "lora", 12L * 8 * (384 + 384) + 770,
                    "nola", 12L * (1024 + 1024) + 770,
                    "bone", 12L * 16 * 384 + 770,
                    "bat", 12L * (384 / 16) * 16 * 16 + 770,
                    "flora", 12L * (8 * 8 + 2 * 384 * 8) + 770,
                    "pego", 12L * 2 * 4 * (384 + 384) + 770,
                    "pissa", 12L * 8 * (384 + 384) + 770,
                    "pissa_niter_4", 12L * 8 * (384 + 384) + 770,
                    "lora_ga", 12L * 8 * (384 + 384) + 770,
                    "eva", 12L * 8 * (384 + 384) + 770);

    static Stream<String> names() {
        return Methods.all().keySet().stream();
    }

    @ParameterizedTest
    @MethodSource("names")
    void injectsAtItsBudgetAndTrains(String name) throws Exception {
        Methods.Method method = Methods.byName(name);
        List<TextExample> data =
                List.of(
                        new TextExample("free money, click now", 1),
                        new TextExample("meeting moved to tuesday", 0),
                        new TextExample("win a prize today", 1),
                        new TextExample("the report is attached", 0));
        try (NDManager m = NDManager.newBaseManager();
                Model djl = Model.newInstance(name);
                HuggingFaceTokenizer tok = MiniLm.tokenizer()) {
            BertForSequenceClassification clf = MiniLm.CLASSIFIER.load(m, 2);
            djl.setBlock(clf);
            PeftModel pm = PeftModel.create(clf, method.config().get());
            assertEquals(EXPECTED.get(name), pm.trainableParameterCount(), name);
            TextBatcher batches = TextClassifiers.batches(data, tok, 2, true, 1);
            DefaultTrainingConfig cfg =
                    new DefaultTrainingConfig(pm.trainingLoss(Loss.softmaxCrossEntropyLoss()));
            try (Trainer t = pm.newTrainer(djl, cfg)) {
                List<Float> losses =
                        TrainLoop.builder()
                                .setTrainer(t)
                                .setTrainData(batches)
                                .optProgress(false)
                                .build()
                                .run();
                assertEquals(2, losses.size());
                losses.forEach(l -> assertTrue(Float.isFinite(l) && l > 0, name + " loss " + l));
            }
        }
    }
}
