package dev.peft4j.adapters.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
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
 */
public final class LoraEmbeddingAdapter extends Adapter {

    private final double scaling;
    private final Parameter a;
    private final Parameter b;

    LoraEmbeddingAdapter(AdapterContext ctx, LoraConfig config) {
        super(ctx);
        String path = ctx.modulePath();
        String init = config.initLoraWeights();
        if (config.useDora() || config.loraBias() || !LoraInitializers.builtIn(init)) {
            throw new IllegalArgumentException(
                    "LoRA on the embedding '"
                            + path
                            + "' supports init_lora_weights true, false and 'gaussian' without"
                            + " use_dora and lora_bias in peft4j (got init_lora_weights '"
                            + init
                            + "'"
                            + (config.useDora() ? ", use_dora" : "")
                            + (config.loraBias() ? ", lora_bias" : "")
                            + ")");
        }
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
    }

    @Override
    public NDArray delta(ParameterStore ps, NDArray ids, boolean training) {
        NDArray av = ps.getValue(a, ids.getDevice(), training);
        NDArray bv = ps.getValue(b, ids.getDevice(), training);
        NDArray afterA = base.apply(ids, av.transpose());
        return Scalars.mul(afterA.matMul(bv.transpose()), scaling);
    }

    @Override
    public NDArray addTo(NDArray y, ParameterStore ps, NDArray ids, boolean training) {
        DataType t = a.getArray().getDataType();
        if (y.getDataType() != t) {
            LoraAdapter.requireNotTraining(training, y.getDataType(), modulePath);
            return y.toType(t, false).add(delta(ps, ids, training)).toType(y.getDataType(), false);
        }
        return y.add(delta(ps, ids, training));
    }

    /** {@code s (B A)^T}, shaped like the table {@code [num, dim]}. */
    @Override
    public NDArray deltaWeight(NDManager manager) {
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
