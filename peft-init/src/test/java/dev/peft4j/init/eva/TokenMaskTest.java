package dev.peft4j.init.eva;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.Batchifier;
import dev.peft4j.core.testing.ManagedTest;
import org.junit.jupiter.api.Test;

/** Which tokens EVA keeps: padding by the attention mask, ignored labels by the label mask. */
class TokenMaskTest extends ManagedTest {

    private Batch batch(NDManager m, long[] mask, long[] labels, Shape labelShape) {
        NDArray attention = m.create(mask, new Shape(2, 3));
        attention.setName(TokenMask.ATTENTION_MASK);
        NDArray ids = m.zeros(new Shape(2, 3));
        return new Batch(
                m,
                new NDList(ids, attention),
                new NDList(m.create(labels, labelShape)),
                2,
                Batchifier.STACK,
                Batchifier.STACK,
                0,
                0);
    }

    @Test
    void attentionMaskAndTokenLabelsEqualToTheIgnoreValueAreDropped() {
        EvaConfig config = EvaConfig.defaults();
        try (Batch b =
                batch(
                        manager.newSubManager(),
                        new long[] {1, 1, 0, 1, 1, 1},
                        new long[] {5, -100, 0, 7, 8, -100},
                        new Shape(2, 3))) {
            NDArray keep = TokenMask.standard().keep(b, config);
            assertArrayEquals(
                    new boolean[] {true, false, false, true, true, false}, keep.toBooleanArray());
            EvaConfig noLabels = new EvaConfig(2, 0.99, false, -100, false, true);
            assertArrayEquals(
                    new boolean[] {true, true, false, true, true, true},
                    TokenMask.standard().keep(b, noLabels).toBooleanArray());
            // rows of a [2, 3, 2] input: tokens 0, 3, 4 survive
            NDArray x = manager.arange(12f).reshape(2, 3, 2);
            assertAlmostEquals(
                    TokenMask.rows(x, keep),
                    manager.create(new float[] {0, 1, 6, 7, 8, 9}, new Shape(3, 2)),
                    0,
                    0);
            // a pooled input [2, 2] is not token-shaped: every row is kept
            assertAlmostEquals(
                    TokenMask.rows(manager.arange(4f).reshape(2, 2), keep),
                    manager.arange(4f).reshape(2, 2),
                    0,
                    0);
        }
    }

    @Test
    void sequenceLabelsAreNotTokenMasks() {
        try (Batch b =
                batch(
                        manager.newSubManager(),
                        new long[] {1, 1, 1, 1, 0, 0},
                        new long[] {-100, 1},
                        new Shape(2))) {
            assertArrayEquals(
                    new boolean[] {true, true, true, true, false, false},
                    TokenMask.standard().keep(b, EvaConfig.defaults()).toBooleanArray());
            assertNull(TokenMask.all().keep(b, EvaConfig.defaults()));
        }
    }
}
