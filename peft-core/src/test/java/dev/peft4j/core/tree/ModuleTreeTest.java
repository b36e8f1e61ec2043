package dev.peft4j.core.tree;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import dev.peft4j.core.testing.TinyModels;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ModuleTreeTest {

    private final NDManager manager = NDManager.newBaseManager();

    @AfterEach
    void close() {
        manager.close();
    }

    @Test
    void sequentialChildrenAreNamedByIndexLikeNnSequential() {
        Block mlp = TinyModels.mlp(manager, 1).block();
        assertEquals(
                List.of("", "0", "1", "2", "3", "4"),
                List.copyOf(ModuleTree.modules(mlp).keySet()));
    }

    @Test
    void userBlocksAreNamedByTheirChildNamesWithoutDjlOrdinals() {
        Block t = TinyModels.transformer(manager, 1).block();
        List<String> paths = List.copyOf(ModuleTree.modules(t).keySet());
        assertTrue(paths.contains("layers.1.query"), paths.toString());
        assertTrue(paths.contains("layers.0.norm"), paths.toString());
        assertEquals("embed", paths.get(1));
        assertEquals("head", paths.get(paths.size() - 1));
    }

    @Test
    void collidingChildNamesFallBackToIndices() {
        Block b = new SequentialBlock();
        // a SequentialBlock inside a SequentialBlock: both levels by index
        SequentialBlock outer =
                new SequentialBlock()
                        .add(new SequentialBlock().add(Linear.builder().setUnits(2).build()));
        assertTrue(ModuleTree.modules(outer).containsKey("0.0"));
        assertEquals(List.of(""), List.copyOf(ModuleTree.modules(b).keySet()));
    }

    @Test
    void replaceUpdatesTheChildListAndTypedFields() {
        TinyModels.TinyModel m = TinyModels.transformer(manager, 1);
        Linear replacement = Linear.builder().setUnits(12).build();
        Block old = ModuleTree.get(m.block(), "layers.0.value");
        ModuleTree.replace(m.block(), "layers.0.value", replacement);
        assertSame(replacement, ModuleTree.get(m.block(), "layers.0.value"));
        // the forward pass goes through the field: restoring the old block restores the output
        ModuleTree.replace(m.block(), "layers.0.value", old);
        assertSame(old, ModuleTree.get(m.block(), "layers.0.value"));
    }

    @Test
    void unknownPathNamesTheClosestPaths() {
        Block t = TinyModels.transformer(manager, 1).block();
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class, () -> ModuleTree.get(t, "layers.0.quer"));
        assertTrue(e.getMessage().contains("layers.0.query"), e.getMessage());
    }

    @Test
    void suggestionsRankBySuffixThenEditDistance() {
        List<String> c =
                Suggestions.closest("qeury", List.of("a.query", "a.key", "b.value", "a.dense"), 2);
        assertEquals("a.query", c.get(0));
        assertEquals(3, Suggestions.levenshtein("kitten", "sitting"));
    }
}
