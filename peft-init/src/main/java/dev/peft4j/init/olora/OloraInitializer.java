package dev.peft4j.init.olora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.linalg.Linalg;
import dev.peft4j.core.linalg.QrResult;
import dev.peft4j.init.convert.ResidualInitializer;

/**
 * OLoRA (Büyükakyüz 2024) as PEFT's {@code olora_init} (tuners/lora/layer.py): the thin QR {@code
 * W = Q R} of the float32 base weight {@code [out, in]}, {@code B = Q[:, :r]}, {@code A = R[:r,
 * :]}, and the base becomes {@code W - s B A}. PEFT redoes it when it loads an {@code "olora"}
 * folder, and so does peft4j. QR fixes each column of Q and row of R only up to a common sign:
 * peft4j's R has a non-negative diagonal, LAPACK's (PEFT's) may not; {@code B A}, the residual
 * and training (which is symmetric under flipping a column of B with the row of A) are the same.
 */
public final class OloraInitializer extends ResidualInitializer {

    /** The {@code init_lora_weights} value. */
    public static final String NAME = "olora";

    @Override
    public boolean handles(String initLoraWeights) {
        return NAME.equals(initLoraWeights);
    }

    @Override
    protected String name() {
        return NAME;
    }

    @Override
    protected boolean redoneAtLoad() {
        return true;
    }

    @Override
    protected void checkApplicable(LoraAdapter adapter) {
        requireRankAtMostMinDimension(adapter, "OLoRA");
    }

    @Override
    public void initialize(LoraAdapter adapter, LoraConfig config, AdapterContext context) {
        decompose(adapter, 0);
    }

    @Override
    protected void decompose(LoraAdapter adapter, long seed) {
        checkApplicable(adapter);
        NDArray w = adapter.base().weight().getArray();
        int r = adapter.rank();
        try (NDManager scope = w.getManager().newSubManager()) {
            NDArray w32 = w.toType(DataType.FLOAT32, true);
            w32.attach(scope);
            try (QrResult qr = Linalg.qr(w32, scope)) {
                NDArray b = qr.q().get(new NDIndex(":, :{}", r));
                NDArray a = qr.r().get(new NDIndex(":{}, :", r));
                setFactors(adapter, a, b, w32);
            }
        }
    }
}
