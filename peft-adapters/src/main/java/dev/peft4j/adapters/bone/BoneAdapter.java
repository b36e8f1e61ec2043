package dev.peft4j.adapters.bone;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.SeededFill;
import dev.peft4j.adapters.Temporaries;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import java.util.SplittableRandom;

/**
 * A Bone adapter on one Linear layer: {@code delta(x) = (sum_j x_j) b} with {@code x_j} the
 * width-r blocks of {@code x} (the tail zero-padded) and {@code b = miss_block [r, out]}; its weight
 * change is {@code b^T} tiled over the input dimension, the last partial tile cut to {@code in mod r}
 * columns.
 */
public final class BoneAdapter extends Adapter {

    private final int r;
    private final float dropout;
    private final Parameter block;

    BoneAdapter(AdapterContext ctx, BoneConfig config) {
        super(ctx);
        this.r = config.r();
        this.dropout = (float) config.dropout();
        int m = (int) base.outFeatures();
        DataType type = base.weight().getArray().getDataType();
        this.block = trainable("miss_block", ctx.manager().zeros(new Shape(r, m), type));
        if (config.randomInit() && !ctx.forLoading()) {
            // PEFT's kaiming_uniform_(a = sqrt(5)) on an [r, out] tensor: bound 1 / sqrt(out)
            SplittableRandom rnd = new SplittableRandom(ctx.layerSeed(config.initSeed()));
            SeededFill.uniform(block.getArray(), rnd, 1 / Math.sqrt(m));
        }
    }

    /** Number of width-r blocks the input is cut into, the last one zero-padded. */
    private long inputBlocks() {
        return (base.inFeatures() + r - 1) / r;
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        NDArray b = valueFor(ps, block, x, training);
        NDArray in =
                training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
        long pad = inputBlocks() * r - base.inFeatures();
        if (pad > 0) {
            in = in.pad(new Shape(0, pad), 0);
        }
        Shape s = in.getShape();
        Shape blocks = s.slice(0, s.dimension() - 1).add(inputBlocks(), r);
        return in.reshape(blocks).sum(new int[] {s.dimension() - 1}).matMul(b);
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        return Temporaries.compute(
                manager,
                () ->
                        block.getArray()
                                .transpose()
                                .tile(new long[] {1, inputBlocks()})
                                .get(":, :" + base.inFeatures()));
    }

    /** The block {@code b [r, out]} (miss_block). */
    public Parameter block() {
        return block;
    }

    /** The block size r. */
    public int rank() {
        return r;
    }

    @Override
    public String toString() {
        return "Bone("
                + modulePath
                + ": W ["
                + base.outFeatures()
                + ", "
                + base.inFeatures()
                + "], r "
                + r
                + ", miss_block ["
                + r
                + ", "
                + base.outFeatures()
                + "])";
    }
}
