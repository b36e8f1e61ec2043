package dev.peft4j.adapters.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import dev.peft4j.adapters.SeededFill;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.Scalars;
import java.util.SplittableRandom;

/**
 * LoRA on a lookup table {@code W [num, dim]}, as PEFT's {@code lora.Embedding}
 * (tuners/lora/layer.py): {@code lora_embedding_A [r, num]}, {@code lora_embedding_B [dim, r]};
 * the output for ids is {@code W[ids] + s A^T[ids] B^T} (no dropout, as PEFT's forward); the weight
 * change is {@code s (B A)^T}. Init: {@code true} and {@code "gaussian"} give {@code A = 0}, {@code
 * B ~ N(0, 1)} (PEFT's {@code reset_lora_parameters} for embeddings), {@code false} both {@code
 * N(0, 1)} ({@code torch.randn}). Over a half base the factors are float32, as {@link
 * LoraAdapter}.
 *
 * <p>With DoRA ({@code use_dora}, PEFT's {@code DoraEmbeddingLayer} and {@code
 * DoraEmbeddingVariant}): {@code lora_magnitude_vector [dim]}, {@code n = ||W + s (B A)^T||} over
 * each column of the table, detached, {@code c = m / n}; the output is {@code c (W[ids] + s
 * A^T[ids] B^T)} and the merge {@code W <- c (W + s (B A)^T)}.
 */
public final class LoraEmbeddingAdapter extends Adapter {

    private final double scaling;
    private final Parameter a;
    private final Parameter b;
    private final Parameter magnitude;
    private final DoraMerge doraMerge;

    LoraEmbeddingAdapter(AdapterContext ctx, LoraConfig config) {
        super(ctx);
        String path = ctx.modulePath();
        String init = config.initLoraWeights();
        int r = config.rankFor(path);
        this.scaling = config.scalingFor(path);
        long num = base.inFeatures();
        long dim = base.outFeatures();
        DataType baseType = base.weight().getArray().getDataType();
        DataType type = LoraAdapter.isHalf(baseType) ? DataType.FLOAT32 : baseType;
        NDManager mgr = ctx.manager();
        this.a = trainable("lora_embedding_A", mgr.zeros(new Shape(r, num), type));
        this.b = trainable("lora_embedding_B", mgr.zeros(new Shape(dim, r), type));
        if (!ctx.forLoading()) {
            SplittableRandom rnd = new SplittableRandom(ctx.layerSeed(config.initSeed()));
            if ("false".equals(init)) {
                SeededFill.gaussian(a.getArray(), rnd, 1);
            }
            SeededFill.gaussian(b.getArray(), rnd, 1);
            if (LoraAdapter.isHalf(baseType)) {
                LoraAdapter.roundThrough(a.getArray(), baseType);
                LoraAdapter.roundThrough(b.getArray(), baseType);
            }
        }
        this.doraMerge = new DoraMerge(path);
        if (config.useDora()) {
            // DoraLinearLayer.update_layer: the norm of W^T + s B A per row, after the init
            this.magnitude = trainable("lora_magnitude_vector", mgr.zeros(new Shape(dim), type));
            if (!ctx.forLoading()) {
                try (NDManager scope = mgr.newSubManager()) {
                    NDArray merged =
                            inType(base.weight().getArray(), type, scope)
                                    .add(plainDeltaWeight(scope));
                    merged.attach(scope);
                    NDArray norm = columnNorm(merged);
                    magnitude.getArray().set(new NDIndex("..."), norm);
                    if (LoraAdapter.isHalf(baseType)) {
                        LoraAdapter.roundThrough(magnitude.getArray(), baseType);
                    }
                }
            }
        } else {
            this.magnitude = null;
        }
    }

    /** {@code w} itself when of dtype {@code t}, else a copy of that dtype on {@code scope}. */
    private static NDArray inType(NDArray w, DataType t, NDManager scope) {
        if (w.getDataType() == t) {
            return w;
        }
        NDArray copy = w.toType(t, true);
        copy.attach(scope);
        return copy;
    }

    /** The L2 norm of each column of a table {@code [num, dim]}: {@code [dim]}. */
    private static NDArray columnNorm(NDArray w) {
        return w.square().sum(new int[] {0}).sqrt();
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray ids, boolean training) {
        return magnitude == null ? lora(ps, ids, training) : dora(null, ps, ids, training);
    }

    /** {@code s A^T[ids] B^T}. */
    private NDArray lora(ParameterStore ps, NDArray ids, boolean training) {
        NDArray av = valueFor(ps, a, ids, training);
        NDArray bv = valueFor(ps, b, ids, training);
        NDArray afterA = base.apply(ids, av.transpose());
        return Scalars.mul(afterA.matMul(bv.transpose()), scaling);
    }

    /**
     * DoRA as PEFT's {@code DoraEmbeddingVariant.forward}: {@code c y + c s A^T[ids] B^T} for the
     * base output {@code y}; without {@code y} the extra output {@code (c - 1) W[ids] + c s
     * A^T[ids] B^T}.
     */
    private NDArray dora(NDArray y, ParameterStore ps, NDArray ids, boolean training) {
        NDArray av = valueFor(ps, a, ids, training);
        NDArray bv = valueFor(ps, b, ids, training);
        NDArray w = base.weightValue(ps, ids, training).toType(av.getDataType(), false);
        NDArray c = doraScale(ps, w, av, bv, training);
        NDArray lora = lora(ps, ids, training).mul(c);
        return y == null ? base.apply(ids, w).mul(c.sub(1)).add(lora) : y.mul(c).add(lora);
    }

    /** {@code m / ||W + s (B A)^T||} per column, the norm detached (dora.py 143-152). */
    private NDArray doraScale(
            ParameterStore ps, NDArray w, NDArray av, NDArray bv, boolean training) {
        NDArray loraWeight = bv.stopGradient().matMul(av.stopGradient()).transpose();
        NDArray norm = columnNorm(w.add(Scalars.mul(loraWeight, scaling))).stopGradient();
        return valueFor(ps, magnitude, av, training).div(norm);
    }

    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray ids, boolean training) {
        DataType t = a.getArray().getDataType();
        if (y.getDataType() != t) {
            LoraAdapter.requireNotTraining(training, y.getDataType(), modulePath);
            return addToSameType(y.toType(t, false), ps, ids, training)
                    .toType(y.getDataType(), false);
        }
        return addToSameType(y, ps, ids, training);
    }

    private NDArray addToSameType(NDArray y, ParameterStore ps, NDArray ids, boolean training) {
        return magnitude == null ? y.add(lora(ps, ids, training)) : dora(y, ps, ids, training);
    }

    /**
     * {@code s (B A)^T}, shaped like the table {@code [num, dim]}; with DoRA {@code c (W + s (B
     * A)^T) - W}.
     */
    @Override
    public NDArray deltaWeight(NDManager manager) {
        if (magnitude == null) {
            return plainDeltaWeight(manager);
        }
        return DoraMerge.change(
                base.weight().getArray(), this::plainDeltaWeight, this::doraFactor, manager);
    }

    /** {@code m / ||merged||} per column as {@code [1, dim]} (PEFT's {@code dora_factor.view(1, -1)}). */
    private NDArray doraFactor(NDArray merged) {
        return magnitude.getArray().div(columnNorm(merged)).reshape(1, -1);
    }

    @Override
    public void mergeInto(NDArray weight) {
        if (magnitude == null) {
            super.mergeInto(weight);
            return;
        }
        doraMerge.merge(
                weight,
                this::plainDeltaWeight,
                this::doraFactor,
                magnitude.getArray().getManager());
    }

    @Override
    public void unmergeFrom(NDArray weight) {
        if (magnitude == null) {
            super.unmergeFrom(weight);
            return;
        }
        doraMerge.unmerge(weight, this::plainDeltaWeight);
    }

    @Override
    protected void releaseResources() {
        doraMerge.close();
    }

    private NDArray plainDeltaWeight(NDManager manager) {
        NDArray product = b.getArray().matMul(a.getArray());
        product.attach(manager);
        NDArray dw = Scalars.mul(product.transpose(), scaling);
        dw.attach(manager);
        return dw;
    }

    /** {@code lora_embedding_A [r, num]}. */
    public Parameter loraEmbeddingA() {
        return a;
    }

    /** {@code lora_embedding_B [dim, r]}. */
    public Parameter loraEmbeddingB() {
        return b;
    }

    /** The scaling {@code s}. */
    public double scaling() {
        return scaling;
    }
}
