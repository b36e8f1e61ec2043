package dev.peft4j.adapters.flora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.SeededFill;
import dev.peft4j.adapters.Temporaries;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.Scalars;
import dev.peft4j.core.tree.BaseLayer;
import java.util.SplittableRandom;

/**
 * A FLoRA adapter on one Linear or Conv2d layer: core {@code G} ({@code flora_G}) and one factor
 * {@code P_i [dims_i, r_i]} per mode ({@code flora_P.<i>}), modes {@code [in, out]} or
 * {@code [in / groups, out, kh, kw]}; see {@link FloraConfig}.
 */
public final class FloraAdapter extends Adapter {

    private final double scale;
    private final long[] dims;
    private final int[] ranks;
    private final Parameter core;
    private final Parameter[] factors;

    FloraAdapter(AdapterContext ctx, FloraConfig config) {
        super(ctx);
        this.scale = config.scale();
        this.dims = modesOf(base);
        this.ranks = config.ranksFor(dims);
        DataType type = base.weight().getArray().getDataType();
        NDManager mgr = ctx.manager();
        long[] coreShape = new long[ranks.length];
        for (int i = 0; i < ranks.length; i++) {
            coreShape[i] = ranks[i];
        }
        this.core = trainable("flora_G", mgr.zeros(new Shape(coreShape), type));
        this.factors = new Parameter[dims.length];
        for (int i = 0; i < dims.length; i++) {
            factors[i] = trainable("flora_P." + i, mgr.zeros(new Shape(dims[i], ranks[i]), type));
        }
        if (!ctx.forLoading()) {
            SplittableRandom rnd = new SplittableRandom(ctx.layerSeed(config.initSeed()));
            for (int i = 0; i < dims.length; i++) {
                SeededFill.gaussian(factors[i].getArray(), rnd, 1.0 / Math.sqrt(2.0 * ranks[i]));
            }
        }
    }

    /** The modes {@code [in, out, k...]} of a weight stored {@code [out, in / groups, k...]}. */
    private static long[] modesOf(BaseLayer base) {
        long[] w = base.weightShape().getShape();
        long[] dims = w.clone();
        dims[0] = w[1];
        dims[1] = w[0];
        return dims;
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        if (base.kind() == BaseLayer.Kind.LINEAR) {
            return linearDelta(null, ps, x, training);
        }
        NDArray g = valueFor(ps, core, x, training);
        NDArray[] p = new NDArray[factors.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = valueFor(ps, factors[i], x, training);
        }
        return base.apply(x, Temporaries.compute(x.getManager(), () -> tucker(g, p)));
    }

    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        if (base.kind() == BaseLayer.Kind.LINEAR) {
            return linearDelta(y, ps, x, training);
        }
        return super.addTo(y, ps, x, training);
    }

    /**
     * {@code y + x dW^T} for a Linear as {@code (scale * x P_0 G) P_1^T + y}: three thin products
     * instead of building the {@code [out, in]} {@code dW}, the add fused as the last one's bias
     * ({@code y} may be null). Every product starts from {@code x}, so results stay in its manager.
     */
    private NDArray linearDelta(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        NDArray h =
                Scalars.mul(
                        x.matMul(valueFor(ps, factors[0], x, training))
                                .matMul(valueFor(ps, core, x, training)),
                        scale);
        return Linear.linear(h, valueFor(ps, factors[1], x, training), y).singletonOrThrow();
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        NDArray[] p = new NDArray[factors.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = factors[i].getArray();
        }
        return Temporaries.compute(manager, () -> tucker(core.getArray(), p));
    }

    /**
     * {@code scale * (G x_0 P_0 x_1 P_1 ...)} with the first two axes swapped: each step contracts
     * the leading rank axis of the running tensor with one factor and appends that mode's size, so
     * after all modes the axes are {@code [in, out, k...]}.
     */
    private NDArray tucker(NDArray g, NDArray[] p) {
        NDArray t = g;
        for (int i = 0; i < p.length; i++) {
            Shape rest = t.getShape().slice(1);
            t =
                    t.reshape(ranks[i], -1)
                            .transpose()
                            .matMul(p[i].transpose())
                            .reshape(rest.add(dims[i]));
        }
        return Scalars.mul(t.swapAxes(0, 1), scale);
    }

    /** The core {@code G [r_0, r_1, ...]} ({@code flora_G}). */
    public Parameter core() {
        return core;
    }

    /** The factor {@code P_i [dims_i, r_i]} of mode {@code i} ({@code flora_P.<i>}). */
    public Parameter factor(int mode) {
        return factors[mode];
    }

    /** The Tucker ranks {@code r_i} of this layer. */
    public int[] ranks() {
        return ranks.clone();
    }

    /** The mode sizes {@code [in (/ groups), out, k...]} of this layer. */
    public long[] modeSizes() {
        return dims.clone();
    }
}
