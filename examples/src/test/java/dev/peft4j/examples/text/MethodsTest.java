package dev.peft4j.examples.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.MethodCatalogue;
import dev.peft4j.core.testing.MethodCatalogue.Entry;
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

/**
 * Every method of the comparison (the catalogue's budget rows) injects into the real MiniLM at its
 * formula's trainable count and trains.
 */
class MethodsTest {

    /** The 2-class head trained beside every adapter: {@code [2, 384]} weights and 2 biases. */
    private static final long HEAD = 2 * 384 + 2;

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
            // the catalogue's formula (methods.md) summed over the 12 adapted query/value layers
            Entry row = MethodCatalogue.byName(name);
            long expected = HEAD;
            for (Map.Entry<String, Adapter> a : pm.adapters(PeftModel.DEFAULT).entrySet()) {
                expected += row.budgetCount(a.getKey(), a.getValue().base());
            }
            assertEquals(12, pm.adapters(PeftModel.DEFAULT).size(), name);
            assertEquals(expected, pm.trainableParameterCount(), name);
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
