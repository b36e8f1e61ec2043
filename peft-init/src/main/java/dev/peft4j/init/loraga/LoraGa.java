package dev.peft4j.init.loraga;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;
import dev.peft4j.init.convert.ResidualInitializer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LoRA-GA (Wang et al. 2024) as PEFT computes it: {@code G} is the mean gradient of the task loss
 * w.r.t. each target weight over T batches (by default those holding the paper's 64 x 2 examples);
 * {@code U, S, V = svdLowRank(G, q = min(4r, m, n), niter = 4)}; ArB2r takes {@code A = V[:, :r]^T}
 * and {@code B = U[:, r:2r] diag(S[r:2r])}, B scaled by {@code m^(1/4) / sqrt(gamma)} (PEFT's
 * "stable"; the other directions and scales, and the authors' code's, in {@link LoraGaConfig}); the
 * base weight becomes {@code W - s B A} in float32. After one SGD step of size eta, the change of
 * {@code s B A} lies in the span of the top 2r singular vectors of {@code -eta G}: the full
 * fine-tuning step's best rank-2r part.
 */
public final class LoraGa {

    /** The examples the gradient is averaged over by default: the paper's T = 64 batches of 2. */
    public static final int DEFAULT_EXAMPLES = 128;

    /** Subspace iterations of the randomized SVD of G, as in the paper's code. */
    public static final int NITER = 4;

    private LoraGa() {}

    /**
     * Initializes the given LoRA-GA layers of {@code model} from the gradient of {@code loss} on the
     * first batches of {@code data} that hold {@code examples} examples (T = ceil(examples / batch
     * size) batches; the mean is over batches).
     *
     * @param model the model's root block (its forward gives what {@code loss} expects)
     * @param layers the adapter's layers by module path
     * @param config the adapter's config
     */
    public static void initialize(
            Block model,
            Map<String, LoraAdapter> layers,
            LoraConfig config,
            Iterable<Batch> data,
            Loss loss,
            int examples) {
        LoraGaConfig options = LoraGaConfig.of(config);
        Map<String, Parameter> weights = new LinkedHashMap<>();
        layers.forEach((path, a) -> weights.put(path, a.base().weight()));
        NDManager manager = weights.values().iterator().next().getArray().getManager();
        try (NDManager scope = manager.newSubManager()) {
            Map<String, NDArray> gradients =
                    GradientEstimator.meanGradients(model, weights, data, loss, examples, scope);
            layers.forEach(
                    (path, adapter) ->
                            fromGradient(
                                    adapter,
                                    gradients.get(path),
                                    options,
                                    layerSeed(adapter, config.initSeed())));
        }
    }

    /**
     * Sets one layer's A, B and residual weight from its mean gradient {@code g [m, n]}, as PEFT's
     * {@code lora_ga_init} (tuners/lora/layer.py): {@code U, S, V = svd_lowrank(g, q = min(4r, m,
     * n), niter = 4)}, the direction's components, the scale, then {@code W - s B A} in float32.
     */
    static void fromGradient(LoraAdapter adapter, NDArray g, LoraGaConfig options, long seed) {
        int r = adapter.rank();
        long m = g.getShape().get(0);
        int q = (int) Math.min(4L * r, Math.min(m, g.getShape().get(1)));
        if (q < 2 * r) {
            throw new IllegalArgumentException(
                    "LoRA-GA needs 2r <= min(out, in) for module '"
                            + adapter.modulePath()
                            + "' of shape "
                            + g.getShape()
                            + ", got r = "
                            + r);
        }
        double stable = Math.pow(m, 0.25) / Math.sqrt(options.stableGamma());
        int[][] picked = options.components(r, seed ^ 0x9E3779B97F4A7C15L);
        try (NDManager scope = g.getManager().newSubManager();
                SvdResult svd = Linalg.svdLowRank(g, q, NITER, seed, scope)) {
            NDArray a = columns(svd.v(), picked[0]).transpose();
            NDArray u = columns(svd.u(), picked[1]);
            NDArray w32 = adapter.base().weight().getArray().toType(DataType.FLOAT32, true);
            w32.attach(scope);
            NDArray b;
            if (LoraGaConfig.PAPER.equals(options.scale())) {
                a = a.mul(stable);
                b = u.mul(stable);
            } else {
                float[] s = svd.s().toFloatArray();
                float[] sB = new float[r];
                for (int i = 0; i < r; i++) {
                    sB[i] = s[picked[1][i]];
                }
                b = u.mul(scope.create(sB));
                switch (options.scale()) {
                    case LoraGaConfig.STABLE -> b = b.mul(stable);
                    case "weight_svd" -> {
                        if (sB[0] > 0) {
                            try (SvdResult ws = Linalg.svdLowRank(w32, r, NITER, seed + 1, scope)) {
                                b = b.mul(ws.s().getFloat(0) / sB[0]);
                            }
                        }
                    }
                    case "gd_scale" -> {
                        a = a.div(adapter.scaling());
                        b = b.div(adapter.scaling());
                    }
                    default -> {
                        // unit: U diag(S) as it is
                    }
                }
            }
            ResidualInitializer.setFactors(adapter, a, b, w32);
        }
    }

    /** The columns {@code index} of {@code x [rows, k]}, in that order. */
    private static NDArray columns(NDArray x, int[] index) {
        NDList parts = new NDList();
        for (int i : index) {
            parts.add(x.get(new NDIndex(":, {}:{}", i, i + 1)));
        }
        return NDArrays.concat(parts, 1);
    }

    /** The seed of a layer's randomized SVD, derived like {@code AdapterContext.layerSeed}. */
    private static long layerSeed(LoraAdapter adapter, long seed) {
        NDManager manager = adapter.base().weight().getArray().getManager();
        return new AdapterContext(adapter.modulePath(), "", adapter.base(), manager, false)
                .layerSeed(seed);
    }
}
