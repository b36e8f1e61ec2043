package dev.peft4j.merge.opcm;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import dev.peft4j.core.io.CheckpointReader;
import dev.peft4j.core.testing.JsonArrays;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.merge.Candidate;
import dev.peft4j.merge.MemoryOutput;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiPredicate;
import org.junit.jupiter.api.Test;

/**
 * {@code projection: full} is FusionBench's OPCM ({@code opcm_fusionbench.py}): on a merged task
 * vector with a null space it also zeroes the null-space diagonal component, which the thin
 * projection keeps; a seeded shuffle merges in CPython's order; Linear weights are found by the
 * model type.
 */
class OpcmFullProjectionTest extends ManagedTest {

    private static Path dir() throws URISyntaxException {
        return Paths.get(OpcmFullProjectionTest.class.getResource("full/expected.json").toURI())
                .getParent();
    }

    private MemoryOutput merge(Opcm opcm, List<String> names)
            throws IOException, URISyntaxException {
        try (CheckpointReader base = CheckpointReader.open(dir().resolve("base"))) {
            List<Candidate> cs = new ArrayList<>();
            for (String n : names) {
                cs.add(Candidate.open(dir().resolve(n), n, base));
            }
            MemoryOutput out = new MemoryOutput(manager);
            opcm.merge(base, cs, out);
            for (Candidate c : cs) {
                c.close();
            }
            return out;
        }
    }

    @Test
    void fullProjectionIsFusionBenchsAndDiffersFromThinOnANullSpace()
            throws IOException, URISyntaxException {
        JsonObject want = JsonArrays.resource(OpcmFullProjectionTest.class, "full/expected.json");
        List<String> order = List.of("m0", "m1", "m2");
        MemoryOutput full =
                merge(Opcm.builder().optProjection(Opcm.ProjectionMode.FULL).build(), order);
        for (String key : want.keySet()) {
            assertAlmostEquals(
                    full.tensors().get(key),
                    JsonArrays.array(manager, want.getAsJsonArray(key)),
                    1e-5,
                    1e-6);
        }
        MemoryOutput thin = merge(Opcm.builder().build(), order);
        NDArray diff =
                thin.tensors().get("layer.q.weight").sub(full.tensors().get("layer.q.weight"));
        assertTrue(diff.abs().max().getFloat() > 1e-3, "thin keeps the null-space component");
    }

    @Test
    void aSeededShuffleMergesInCpythonsOrder() throws IOException, URISyntaxException {
        List<String> names = new ArrayList<>(List.of("m0", "m1", "m2"));
        MemoryOutput shuffled = merge(Opcm.builder().optShuffle(3L).build(), names);
        List<String> order = new ArrayList<>(names);
        new PyRandom(3).shuffle(order);
        assertFalse(order.equals(names), "seed 3 reorders three models");
        MemoryOutput inOrder = merge(Opcm.builder().build(), order);
        for (String key : shuffled.tensors().keys()) {
            assertAlmostEquals(shuffled.tensors().get(key), inOrder.tensors().get(key), 0, 0);
        }
    }

    @Test
    void linearWeightsAreFoundByTheModelType() {
        Shape m = new Shape(8, 8);
        BiPredicate<String, Shape> t5 = LinearWeights.forModelType("t5");
        assertFalse(
                t5.test(
                        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                        new Shape(32, 8)));
        assertTrue(t5.test("encoder.block.0.layer.0.SelfAttention.q.weight", m));
        assertFalse(t5.test("shared.weight", m));
        BiPredicate<String, Shape> neox = LinearWeights.forModelType("gpt_neox");
        assertTrue(neox.test("embed_out.weight", m), "GPT-NeoX's output head is a Linear");
        assertFalse(neox.test("gpt_neox.embed_in.weight", m));
        BiPredicate<String, Shape> gpt2 = LinearWeights.forModelType("gpt2");
        assertFalse(
                gpt2.test("transformer.h.0.attn.c_attn.weight", m),
                "GPT-2's Conv1D is not an nn.Linear");
        assertFalse(gpt2.test("transformer.wte.weight", m));
        BiPredicate<String, Shape> llama = LinearWeights.forModelType("llama");
        assertTrue(llama.test("model.layers.0.self_attn.q_proj.weight", m));
        assertTrue(llama.test("lm_head.weight", m));
        assertFalse(llama.test("model.embed_tokens.weight", m));
        assertFalse(llama.test("model.layers.0.input_layernorm.weight", new Shape(8)));
        assertEquals(
                List.of(true, false),
                List.of(
                        LinearWeights.matching(".*q_proj.*").test("a.q_proj.weight", m),
                        LinearWeights.matching(".*q_proj.*").test("a.k_proj.weight", m)));
    }
}
