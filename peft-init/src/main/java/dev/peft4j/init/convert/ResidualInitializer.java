package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.lora.LoraInitializer;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Base of the initializers that rewrite the base weight as {@code W_res = W - s B0 A0} (PiSSA,
 * LoRA-GA). It keeps {@code A0}, {@code B0} and the fingerprint of {@code W_res} on each adapter
 * ({@link #recordResidual}), saves the fingerprint in the checkpoint metadata, refuses to load
 * onto a base with another fingerprint, and converts to plain LoRA when saving with
 * {@code SaveOption.FOR_ORIGINAL_BASE}.
 */
public abstract class ResidualInitializer implements LoraInitializer {

    private static final Logger LOG = LoggerFactory.getLogger(ResidualInitializer.class);

    /**
     * Sets {@code A}, {@code B} and the residual base weight {@code W <- W - s B A} (subtracted in
     * float32 from {@code w32}, the float32 value of W, whatever W's type), then records them with
     * {@link #recordResidual}.
     */
    public static void setFactors(LoraAdapter adapter, NDArray a, NDArray b, NDArray w32) {
        NDArray w = adapter.base().weight().getArray();
        NDIndex all = new NDIndex("...");
        adapter.loraA()
                .getArray()
                .set(all, a.toType(adapter.loraA().getArray().getDataType(), false));
        adapter.loraB()
                .getArray()
                .set(all, b.toType(adapter.loraB().getArray().getDataType(), false));
        try (NDManager scope = w32.getManager().newSubManager()) {
            // from the factors as stored (PEFT casts them to the adapter's dtype first)
            NDArray a32 = adapter.loraA().getArray().toType(DataType.FLOAT32, true);
            NDArray b32 = adapter.loraB().getArray().toType(DataType.FLOAT32, true);
            a32.attach(scope);
            b32.attach(scope);
            NDArray delta = b32.matMul(a32);
            delta.attach(scope);
            NDArray residual = w32.sub(delta.mul(adapter.scaling()));
            residual.attach(scope);
            w.set(all, residual.toType(w.getDataType(), false));
        }
        recordResidual(adapter);
    }

    /**
     * Records the adapter's current factors as {@code A0}, {@code B0} and the fingerprint of its
     * current base weight; call it whenever the initializer has set A, B and {@code W_res}.
     */
    public static void recordResidual(LoraAdapter adapter) {
        ResidualState old = adapter.initState(ResidualState.class);
        if (old != null && old.a0() != null) {
            old.a0().close();
            old.b0().close();
        }
        NDArray a0 = adapter.loraA().getArray().duplicate();
        NDArray b0 = adapter.loraB().getArray().duplicate();
        a0.setName("lora_A0");
        b0.setName("lora_B0");
        adapter.setInitState(
                new ResidualState(a0, b0, BaseFingerprint.of(adapter.base().weight().getArray())));
    }

    @Override
    public LoraConfig forOriginalBase(LoraConfig config) {
        return PlainLoraConversion.config(config);
    }

    @Override
    public Map<String, NDArray> stateDictForOriginalBase(LoraAdapter adapter, NDManager scope) {
        ResidualState state = adapter.initState(ResidualState.class);
        if (state == null || state.a0() == null) {
            throw new IllegalStateException(
                    "Cannot convert the adapter of module '"
                            + adapter.modulePath()
                            + "' to plain LoRA: its initial factors A0, B0 are unknown (it was"
                            + " loaded from a file, not initialized in this session); convert it in"
                            + " the session that initialized it");
        }
        return PlainLoraConversion.tensors(adapter, state.a0(), state.b0(), scope);
    }

    @Override
    public Map<String, String> checkpointMetadata(LoraAdapter adapter) {
        ResidualState state = adapter.initState(ResidualState.class);
        return state == null ? Map.of() : Map.of(BaseFingerprint.KEY, state.fingerprint());
    }

    @Override
    public void verifyLoaded(LoraAdapter adapter, Map<String, String> metadata, String source) {
        String expected = metadata.get(BaseFingerprint.KEY);
        if (expected == null) {
            LOG.warn(
                    "{}: module '{}' has no '{}' metadata (saved by another tool?): cannot check"
                        + " that the base weight is the residual one its initialization produced",
                    source,
                    adapter.modulePath(),
                    BaseFingerprint.KEY);
            return;
        }
        BaseFingerprint.check(
                expected, adapter.base().weight().getArray(), adapter.modulePath(), name(), source);
        adapter.setInitState(new ResidualState(null, null, expected));
    }

    /** The initializer's name for messages ({@code "pissa"}). */
    protected abstract String name();
}
