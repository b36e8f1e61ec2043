package dev.peft4j.adapters.pego;

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
import java.util.SplittableRandom;

/**
 * A PEGO adapter on one Linear layer: N LoRA modules {@code A_i [r, in]} ({@code pego_A.<i>.weight})
 * and {@code B_i [out, r]} ({@code pego_B.<i>.weight}), {@code delta(x) = sum_i B_i (A_i x)}.
 */
public final class PegoAdapter extends Adapter {

    private final Parameter[] a;
    private final Parameter[] b;

    PegoAdapter(AdapterContext ctx, PegoConfig config) {
        super(ctx);
        int n = (int) base.inFeatures();
        int m = (int) base.outFeatures();
        DataType type = base.weight().getArray().getDataType();
        NDManager mgr = ctx.manager();
        int count = config.numLoras();
        this.a = new Parameter[count];
        this.b = new Parameter[count];
        for (int i = 0; i < count; i++) {
            a[i] = trainable("pego_A." + i + ".weight", mgr.zeros(new Shape(config.r(), n), type));
        }
        for (int i = 0; i < count; i++) {
            b[i] = trainable("pego_B." + i + ".weight", mgr.zeros(new Shape(m, config.r()), type));
        }
        if (!ctx.forLoading()) {
            SplittableRandom rnd = new SplittableRandom(ctx.layerSeed(config.initSeed()));
            for (Parameter p : a) {
                SeededFill.uniform(
                        p.getArray(), rnd, 1.0 / Math.sqrt(n)); // Kaiming-uniform, a = sqrt(5)
            }
        }
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray x, boolean training) {
        return accumulate(null, ps, x, training);
    }

    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        return accumulate(y, ps, x, training);
    }

    /** {@code y + sum_i B_i (A_i x)}, each module's add fused into its second product as its bias. */
    private NDArray accumulate(NDArray y, ParameterStore ps, NDArray x, boolean training) {
        for (int i = 0; i < a.length; i++) {
            NDArray h = Linear.linear(x, valueFor(ps, a[i], x, training)).singletonOrThrow();
            y = Linear.linear(h, valueFor(ps, b[i], x, training), y).singletonOrThrow();
        }
        return y;
    }

    @Override
    public NDArray deltaWeight(NDManager manager) {
        return Temporaries.compute(
                manager,
                () -> {
                    NDArray dw = b[0].getArray().matMul(a[0].getArray());
                    for (int i = 1; i < a.length; i++) {
                        dw = dw.add(b[i].getArray().matMul(a[i].getArray()));
                    }
                    return dw;
                });
    }

    /** {@code sum_i sum(|W dW_i^T|)} on this layer, a scalar owned by {@code manager}. */
    public NDArray preserveLoss(NDManager manager) {
        return Temporaries.compute(manager, this::preserveTerm);
    }

    /** {@code sum_{i<j} sum(|dW_i dW_j^T|)} on this layer, a scalar owned by {@code manager}. */
    public NDArray diversifyLoss(NDManager manager) {
        return Temporaries.compute(manager, this::diversifyTerm);
    }

    /**
     * {@code sum_i sum(|W dW_i^T|)}, formed as {@code B_i (A_i W^T)}: the transpose of
     * {@code (W A_i^T) B_i^T}, with the same L1, so the {@code [out, in]} {@code dW_i} is never
     * built. Its arrays land in the parameters' manager: call it inside {@link Temporaries#compute}.
     */
    NDArray preserveTerm() {
        NDArray w = base.weight().getArray();
        NDArray sum = null;
        for (int i = 0; i < a.length; i++) {
            NDArray aw = Linear.linear(a[i].getArray(), w).singletonOrThrow();
            NDArray term = b[i].getArray().matMul(aw).abs().sum();
            sum = sum == null ? term : sum.add(term);
        }
        return sum;
    }

    /**
     * {@code sum_{i<j} sum(|dW_i dW_j^T|)}, formed as {@code B_i (A_i A_j^T) B_j^T} so that only
     * {@code [r, r]} and {@code [out, out]} products appear (0 when N is 1). Call it inside
     * {@link Temporaries#compute}.
     */
    NDArray diversifyTerm() {
        NDArray sum = b[0].getArray().zerosLike().sum();
        for (int i = 0; i < a.length; i++) {
            for (int j = i + 1; j < a.length; j++) {
                NDArray gram = a[i].getArray().matMul(a[j].getArray().transpose());
                NDArray cross = b[i].getArray().matMul(gram).matMul(b[j].getArray().transpose());
                sum = sum.add(cross.abs().sum());
            }
        }
        return sum;
    }

    /** The factor {@code A_i [r, in]} of module {@code i}. */
    public Parameter loraA(int i) {
        return a[i];
    }

    /** The factor {@code B_i [out, r]} of module {@code i}. */
    public Parameter loraB(int i) {
        return b[i];
    }

    /** The number N of LoRA modules. */
    public int numLoras() {
        return a.length;
    }
}
