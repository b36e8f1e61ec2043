package dev.peft4j.models.bert;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.lora.LoraEmbeddingAdapter;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.TargetModules;
import dev.peft4j.models.testing.TestWeights;
import org.junit.jupiter.api.Test;

/**
 * LoRA on BERT's word embeddings (PEFT's {@code lora.Embedding}) inside the real model: the table
 * module is wrapped where BertEmbeddings looks it up, the change reaches the encoder output, and
 * merging gives the unmerged outputs; PEFT's numbers for one table are PeftLoraFoldersTest's.
 */
class EmbeddingLoraTest {

    private static final BertConfig CONFIG =
            BertConfig.parse(
                    "{\"vocab_size\": 20, \"hidden_size\": 8, \"num_hidden_layers\": 1,"
                            + " \"num_attention_heads\": 2, \"intermediate_size\": 12,"
                            + " \"max_position_embeddings\": 8}");
    private static final Shape IDS = new Shape(1, 4);

    private static NDArray run(Block model, NDManager m) {
        NDArray ids = m.create(new long[] {2, 7, 7, 19}, IDS);
        NDList in =
                new NDList(
                        ids,
                        m.ones(IDS).toType(ids.getDataType(), false),
                        m.zeros(IDS, ids.getDataType()));
        return model.forward(new ParameterStore(m, false), in, false).head();
    }

    @Test
    void wordEmbeddingsTakeALoraThatChangesTheOutputAndMerges() {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertModel model = new BertModel(CONFIG, false);
            TestWeights.randomize(model, manager, 3, IDS, IDS, IDS);
            NDArray before = run(model, manager);
            PeftModel pm =
                    PeftModel.create(
                            model,
                            LoraConfig.builder()
                                    .optRank(2)
                                    .optInitLoraWeights("false")
                                    .setTargetModules(TargetModules.names("word_embeddings"))
                                    .build());
            assertEquals(1, pm.adapters(PeftModel.DEFAULT).size());
            assertTrue(
                    pm.adapters(PeftModel.DEFAULT).get("embeddings.word_embeddings")
                            instanceof LoraEmbeddingAdapter);
            NDArray adapted = run(pm.root(), manager);
            assertTrue(adapted.sub(before).abs().max().getFloat() > 1e-3, "the adapter acts");
            Block merged = pm.mergeAndUnload();
            assertAlmostEquals(run(merged, manager), adapted, 1e-5, 1e-6);
        }
    }
}
