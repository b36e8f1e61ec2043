package dev.peft4j.init.pissa;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.SvdResult;
import dev.peft4j.init.convert.ResidualInitializer;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PiSSA (Meng et al. 2024): the adapter starts as the principal part of W and the base weight
 * becomes the residual. With {@code W = U diag(S) V^T} and scaling s: {@code A = diag(sqrt(S_r /
 * s)) V_r^T}, {@code B = U_r diag(sqrt(S_r / s))}, {@code W_res = W - s B A}, so the output is
 * unchanged at step 0. {@code "pissa"} uses the exact SVD; {@code "pissa_niter_N"} the randomized
 * {@code svdLowRank(W, q = r, niter = N)}, which PEFT recommends for large models (N = 16 is
 * about as good as exact in the paper).
 */
public final class PissaInitializer extends ResidualInitializer {

    private static final Logger LOG = LoggerFactory.getLogger(PissaInitializer.class);
    private static final Pattern NAME = Pattern.compile("pissa(?:_niter_(\\d+))?");

    /** Configs already warned about dropout, so a model warns once, not once per layer. */
    private static final Map<LoraConfig, Boolean> WARNED =
            Collections.synchronizedMap(new WeakHashMap<>());

    @Override
    public boolean handles(String initLoraWeights) {
        return NAME.matcher(initLoraWeights).matches();
    }

    @Override
    protected String name() {
        return "pissa";
    }

    /** The subspace iterations of a {@code pissa_niter_N} value, or -1 for the exact {@code pissa}. */
    static int niter(String init) {
        Matcher m = NAME.matcher(init);
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "Not a PiSSA init_lora_weights value: '" + init + "'");
        }
        return m.group(1) == null ? -1 : Integer.parseInt(m.group(1));
    }

    @Override
    protected boolean redoneAtLoad() {
        return true;
    }

    @Override
    protected boolean randomized(LoraConfig config) {
        return niter(config.initLoraWeights()) >= 0;
    }

    @Override
    protected void checkApplicable(LoraAdapter adapter) {
        requireRankAtMostMinDimension(adapter, "PiSSA");
    }

    @Override
    public void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context) {
        if (config.dropout() > 0 && WARNED.put(config, Boolean.TRUE) == null) {
            LOG.warn(
                    "PiSSA with lora_dropout = {}: the paper and PEFT use 0, since dropout on the"
                            + " principal part perturbs the pre-trained function itself",
                    config.dropout());
        }
        decompose(adapter, context.layerSeed(config.initSeed()));
    }

    /** PEFT's {@code pissa_init} (tuners/lora/layer.py): the decomposition of the current base weight. */
    @Override
    protected void decompose(LoraAdapter adapter, long seed) {
        checkApplicable(adapter);
        NDArray w = adapter.base().weight().getArray();
        int r = adapter.rank();
        int niter = niter(adapter.config().initLoraWeights());
        try (NDManager scope = w.getManager().newSubManager()) {
            NDArray w32 = w.toType(DataType.FLOAT32, true);
            w32.attach(scope);
            try (SvdResult svd =
                    niter < 0
                            ? Linalg.svd(w32, scope)
                            : Linalg.svdLowRank(w32, r, niter, seed, scope)) {
                NDIndex topR = new NDIndex(":, :{}", r);
                NDArray root = svd.s().get(new NDIndex(":{}", r)).div(adapter.scaling()).sqrt();
                NDArray a = svd.v().get(topR).mul(root).transpose();
                NDArray b = svd.u().get(topR).mul(root);
                setFactors(adapter, a, b, w32, niter < 0 ? null : seed);
            }
        }
    }
}
