package dev.peft4j.init.eva;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.dataset.Batch;
import ai.djl.translate.Batchifier;
import ai.djl.util.PairList;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.init.Planted;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A test model with three linear "towers" reading disjoint slices of a token input {@code [B, T,
 * 16 + 16 + 64]}: {@code left} and {@code mid} see inputs with a planted 6-dimensional principal
 * subspace, {@code right} a nearly flat 64-dimensional spectrum. Padded positions (attention mask
 * 0) hold a huge value that must not reach EVA's PCA.
 */
final class Towers extends AbstractBlock {

    static final int SMALL = 16;
    static final int WIDE = 64;
    static final int PLANTED = 6;
    static final double[] PLANTED_STD = {3, 2.8, 2.6, 2.4, 2.2, 2.0};
    static final double PAD_VALUE = 100;
    static final double[][] LEFT_BASIS = Planted.orthonormal(SMALL, PLANTED, 31);
    static final double[][] MID_BASIS = Planted.orthonormal(SMALL, PLANTED, 32);

    private final Linear left;
    private final Linear mid;
    private final Linear right;

    Towers() {
        left = addChildBlock("left", Linear.builder().setUnits(4).build());
        mid = addChildBlock("mid", Linear.builder().setUnits(4).build());
        right = addChildBlock("right", Linear.builder().setUnits(4).build());
    }

    /** A seeded, initialized model. */
    static Towers create(NDManager manager) {
        Towers t = new Towers();
        TinyModels.init(t, manager, new Shape(2, 3, 2 * SMALL + WIDE), 5);
        return t;
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.head();
        NDArray l =
                left.forward(ps, new NDList(x.get(new NDIndex("..., :{}", SMALL))), training)
                        .head();
        NDArray m =
                mid.forward(
                                ps,
                                new NDList(x.get(new NDIndex("..., {}:{}", SMALL, 2 * SMALL))),
                                training)
                        .head();
        NDArray r =
                right.forward(ps, new NDList(x.get(new NDIndex("..., {}:", 2 * SMALL))), training)
                        .head();
        return new NDList(l.add(m).add(r));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape s = inputShapes[0];
        return new Shape[] {new Shape(s.get(0), s.get(1), 4)};
    }

    @Override
    protected void initializeChildBlocks(
            NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape s = inputShapes[0];
        left.initialize(manager, dataType, new Shape(s.get(0), s.get(1), SMALL));
        mid.initialize(manager, dataType, new Shape(s.get(0), s.get(1), SMALL));
        right.initialize(manager, dataType, new Shape(s.get(0), s.get(1), WIDE));
    }

    /** {@code count} seeded batches of 8 sequences of up to 16 tokens, re-created on every iteration. */
    static Iterable<Batch> data(NDManager manager, int count) {
        return () ->
                new Iterator<>() {
                    private int next;

                    @Override
                    public boolean hasNext() {
                        return next < count;
                    }

                    @Override
                    public Batch next() {
                        return batch(manager, next++);
                    }
                };
    }

    /** One batch: data {@code (x [8, 16, 96], attention_mask [8, 16])}, labels unused. */
    static Batch batch(NDManager parent, int seed) {
        SplittableRandom rnd = new SplittableRandom(1000 + seed);
        int b = 8;
        int t = 16;
        int width = 2 * SMALL + WIDE;
        float[] x = new float[b * t * width];
        float[] mask = new float[b * t];
        for (int i = 0; i < b; i++) {
            int length = t - i; // sequence i has i padded positions
            for (int j = 0; j < t; j++) {
                int at = (i * t + j) * width;
                if (j >= length) {
                    for (int c = 0; c < width; c++) {
                        x[at + c] = (float) PAD_VALUE;
                    }
                    continue;
                }
                mask[i * t + j] = 1;
                token(x, at, rnd);
            }
        }
        NDManager m = parent.newSubManager();
        NDArray maskArray = m.create(mask, new Shape(b, t));
        maskArray.setName(TokenMask.ATTENTION_MASK);
        List<NDArray> data =
                new ArrayList<>(List.of(m.create(x, new Shape(b, t, width)), maskArray));
        return new Batch(
                m,
                new NDList(data),
                new NDList(m.zeros(new Shape(b))),
                b,
                Batchifier.STACK,
                Batchifier.STACK,
                seed,
                0);
    }

    /** One real token: planted left and mid parts (left offset by +5), a decaying flat right part. */
    private static void token(float[] x, int at, SplittableRandom rnd) {
        planted(x, at, LEFT_BASIS, 5, rnd);
        planted(x, at + SMALL, MID_BASIS, 0, rnd);
        for (int c = 0; c < WIDE; c++) {
            x[at + 2 * SMALL + c] = (float) ((1 - 0.004 * c) * Planted.gaussian(rnd));
        }
    }

    private static void planted(
            float[] x, int at, double[][] basis, double offset, SplittableRandom rnd) {
        for (int c = 0; c < SMALL; c++) {
            x[at + c] = (float) (offset + 0.05 * Planted.gaussian(rnd));
        }
        for (int k = 0; k < PLANTED; k++) {
            double z = PLANTED_STD[k] * Planted.gaussian(rnd);
            for (int c = 0; c < SMALL; c++) {
                x[at + c] += (float) (z * basis[c][k]);
            }
        }
    }
}
