package dev.peft4j.models.adapters;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.io.SafetensorsReader;
import dev.peft4j.core.testing.AdapterChecks;
import dev.peft4j.core.tree.BaseLayer;
import dev.peft4j.models.bert.BertConfig;
import dev.peft4j.models.bert.BertForSequenceClassification;
import dev.peft4j.models.bert.Pooling;
import dev.peft4j.models.io.HfStateDict;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.llama.LlamaConfig;
import dev.peft4j.models.llama.LlamaForCausalLM;
import dev.peft4j.models.testing.TestWeights;
import dev.peft4j.models.vit.ViTConfig;
import dev.peft4j.models.vit.ViTForImageClassification;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * peft-core injects adapters into our blocks by HF module path: the adapted paths, the PEFT keys of
 * the saved adapter, forwards through the adapters, merge-and-unload and export.
 */
class AdapterInjectionTest {

    private static final BertConfig BERT =
            BertConfig.parse(
                    "{\"vocab_size\": 30, \"hidden_size\": 8, \"num_hidden_layers\": 2,"
                            + " \"num_attention_heads\": 2, \"intermediate_size\": 12,"
                            + " \"max_position_embeddings\": 8}");

    @Test
    void loraOnBertUsesHfPathsAndPeftKeys(@TempDir Path dir) throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            BertForSequenceClassification model =
                    new BertForSequenceClassification(BERT, 2, Pooling.MEAN);
            Shape ids = new Shape(2, 5);
            TestWeights.randomize(model, manager, 41, ids, ids, ids);
            Set<String> names = HfStateDict.of(model).keySet();
            NDList in = new NDList(manager.randomInteger(1, 30, ids, DataType.INT64));
            NDArray base = forward(model, manager, in);

            PeftModel pm =
                    PeftModel.create(
                            model,
                            LoraConfig.builder()
                                    .optRank(2)
                                    .setTargetModules("query", "value")
                                    .build());
            assertEquals(
                    List.of(
                            "bert.encoder.layer.0.attention.self.query",
                            "bert.encoder.layer.0.attention.self.value",
                            "bert.encoder.layer.1.attention.self.query",
                            "bert.encoder.layer.1.attention.self.value"),
                    new ArrayList<>(pm.adaptedLayers().keySet()));
            // LoRA starts with B = 0: the adapted model computes the base function
            assertAlmostEquals(forward(model, manager, in), base, 1e-6, 1e-6);
            assertEquals(names, HfStateDict.of(model).keySet(), "base weights keep their HF names");

            AdapterChecks.randomizeAdapters(pm, PeftModel.DEFAULT, 42);
            NDArray adapted = forward(model, manager, in);
            assertTrue(adapted.sub(base).abs().max().getFloat() > 1e-3, "adapters change outputs");
            assertThrows(
                    IllegalStateException.class,
                    () -> HfWeights.save(model, dir.resolve("refused.safetensors")));

            pm.save(dir.resolve("adapter"));
            try (SafetensorsReader saved =
                    SafetensorsReader.open(dir.resolve("adapter/adapter_model.safetensors"))) {
                String q = "base_model.model.bert.encoder.layer.0.attention.self.query.";
                assertTrue(
                        saved.keys().containsAll(List.of(q + "lora_A.weight", q + "lora_B.weight")),
                        saved.keys().toString());
                assertEquals(new Shape(2, 8), saved.info(q + "lora_A.weight").shape());
            }

            Block merged = pm.mergeAndUnload();
            assertAlmostEquals(forward(merged, manager, in), adapted, 1e-4, 1e-5);
            HfWeights.save(merged, dir.resolve("model.safetensors"));
            try (SafetensorsReader exported =
                    SafetensorsReader.open(dir.resolve("model.safetensors"))) {
                assertEquals(new TreeSet<>(names), new TreeSet<>(exported.keys()));
            }
        }
    }

    @Test
    void loraOnLlamaAndVitProjections() {
        LlamaConfig llamaConfig =
                LlamaConfig.parse(
                        "{\"vocab_size\": 20, \"hidden_size\": 8, \"intermediate_size\": 12,"
                                + " \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                                + " \"num_key_value_heads\": 1}");
        ViTConfig vitConfig =
                ViTConfig.parse(
                        "{\"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                            + " \"intermediate_size\": 12, \"image_size\": 4, \"patch_size\": 2,"
                            + " \"num_channels\": 1}");
        try (NDManager manager = NDManager.newBaseManager()) {
            LlamaForCausalLM llama = new LlamaForCausalLM(llamaConfig);
            TestWeights.randomize(llama, manager, 43, new Shape(1, 4));
            PeftModel pl =
                    PeftModel.create(
                            llama,
                            LoraConfig.builder()
                                    .optRank(2)
                                    .setTargetModules("q_proj", "v_proj", "down_proj")
                                    .build());
            assertEquals(
                    List.of(
                            "model.layers.0.self_attn.q_proj",
                            "model.layers.0.self_attn.v_proj",
                            "model.layers.0.mlp.down_proj"),
                    new ArrayList<>(pl.adaptedLayers().keySet()));
            AdapterChecks.randomizeAdapters(pl, PeftModel.DEFAULT, 44);
            NDList ids = new NDList(manager.create(new long[][] {{1, 5, 7, 2}}));
            assertEquals(new Shape(1, 4, 20), forward(llama, manager, ids).getShape());

            ViTForImageClassification vit = new ViTForImageClassification(vitConfig, 3);
            TestWeights.randomize(vit, manager, 45, new Shape(1, 1, 4, 4));
            PeftModel pv =
                    PeftModel.create(
                            vit,
                            LoraConfig.builder()
                                    .optRank(2)
                                    .setTargetModules("query", "dense")
                                    .build());
            assertEquals(
                    List.of(
                            "vit.encoder.layer.0.attention.attention.query",
                            "vit.encoder.layer.0.attention.output.dense",
                            "vit.encoder.layer.0.intermediate.dense",
                            "vit.encoder.layer.0.output.dense"),
                    new ArrayList<>(pv.adaptedLayers().keySet()));
            // the patch embedding is the Conv2d that convolution adapters (FLoRA) target
            assertEquals(
                    BaseLayer.Kind.CONV2D,
                    pv.baseLayer("vit.embeddings.patch_embeddings.projection").kind());
            NDList pixels = new NDList(manager.randomNormal(new Shape(2, 1, 4, 4)));
            NDArray before = forward(vit, manager, pixels);
            AdapterChecks.randomizeAdapters(pv, PeftModel.DEFAULT, 46);
            NDArray after = forward(vit, manager, pixels);
            assertTrue(after.sub(before).abs().max().getFloat() > 1e-3);
            assertAlmostEquals(forward(pv.mergeAndUnload(), manager, pixels), after, 1e-4, 1e-5);
        }
    }

    private static NDArray forward(Block model, NDManager manager, NDList inputs) {
        return model.forward(new ParameterStore(manager, false), inputs, false).head();
    }
}
