package dev.peft4j.init.orthogonal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.adapters.SeededFill;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.lora.LoraInitializer;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.QrResult;
import java.util.SplittableRandom;

/**
 * {@code init_lora_weights = "orthogonal"} as PEFT's {@code orthogonal_init} (tuners/lora/layer.py):
 * an even rank r; {@code Q} from the QR of an {@code [r, r]} Gaussian; {@code A = (G_a Q[0::2,
 * :])^T / 10} with {@code G_a [in, r/2]} and {@code B = G_b^T Q[1::2, :] / 10} with {@code G_b [r/2,
 * out]} Gaussian. The even and odd rows of Q are orthogonal, so {@code B A = 0}: the base is left
 * alone and a folder loads as plain LoRA (PEFT draws new factors at load and overwrites them with
 * the file's). The Gaussians come from the layer's seed here, from torch's generator in PEFT.
 */
public final class OrthogonalInitializer implements LoraInitializer {

    /** The {@code init_lora_weights} value. */
    public static final String NAME = "orthogonal";

    @Override
    public boolean handles(String initLoraWeights) {
        return NAME.equals(initLoraWeights);
    }

    @Override
    public void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context) {
        int r = adapter.rank();
        if (r % 2 != 0) {
            throw new IllegalArgumentException(
                    "init_lora_weights 'orthogonal' needs an even rank (PEFT's rule), got r = "
                            + r
                            + " for module '"
                            + adapter.modulePath()
                            + "'");
        }
        SplittableRandom rnd = new SplittableRandom(context.layerSeed(config.initSeed()));
        int in = (int) adapter.base().inFeatures();
        int out = (int) adapter.base().outFeatures();
        NDArray target = adapter.loraA().getArray();
        NDManager manager = target.getManager();
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = gaussian(scope, rnd, new Shape(r, r));
            try (QrResult qr = Linalg.qr(x, scope)) {
                NDArray qOdd = qr.q().get(new NDIndex("0::2, :"));
                NDArray qEven = qr.q().get(new NDIndex("1::2, :"));
                NDArray ga = gaussian(scope, rnd, new Shape(in, r / 2));
                NDArray gb = gaussian(scope, rnd, new Shape(r / 2, out));
                NDArray a = ga.matMul(qOdd).transpose().div(10);
                NDArray b = gb.transpose().matMul(qEven).div(10);
                NDIndex all = new NDIndex("...");
                target.set(all, a.toType(target.getDataType(), false));
                NDArray bTarget = adapter.loraB().getArray();
                bTarget.set(all, b.toType(bTarget.getDataType(), false));
            }
        }
    }

    private static NDArray gaussian(NDManager scope, SplittableRandom rnd, Shape shape) {
        NDArray g = scope.zeros(shape, DataType.FLOAT32);
        SeededFill.gaussian(g, rnd, 1);
        return g;
    }
}
