package dev.peft4j.init.convert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.adapters.lora.LoraInitializer;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Base of the initializers that rewrite the base weight as {@code W_res = W - s B0 A0} (PiSSA,
 * OLoRA, LoRA-GA). It keeps {@code A0}, {@code B0} and fingerprints of the base on each adapter
 * ({@link #recordResidual}) and converts to plain LoRA when saving with {@code
 * SaveOption.FOR_ORIGINAL_BASE}.
 *
 * <p>A folder saved as it is means what it means in PEFT. Initializers that PEFT redoes at load
 * ({@link #redoneAtLoad}: PiSSA, OLoRA) write folders for the <em>original</em> base: loading
 * checks the original weight's fingerprint (when the folder has one), redoes the decomposition on
 * it (with the saved seed of a randomized one) and keeps the loaded factors. LoRA-GA, which PEFT
 * does not redo, writes folders for the residual base, with its fingerprint, and is refused on
 * another base.
 */
public abstract class ResidualInitializer implements LoraInitializer {

    private static final Logger LOG = LoggerFactory.getLogger(ResidualInitializer.class);

    /** The metadata key of a randomized decomposition's seed (pissa_niter_N), relative to the module. */
    public static final String SEED_KEY = "init_svd_seed";

    /**
     * Sets {@code A}, {@code B} and the residual base weight {@code W <- W - s B A} (subtracted in
     * float32 from {@code w32}, the float32 value of W, whatever W's type), then records them with
     * {@link #recordResidual}.
     */
    public static void setFactors(LoraAdapter adapter, NDArray a, NDArray b, NDArray w32) {
        setFactors(adapter, a, b, w32, null);
    }

    /** {@link #setFactors(LoraAdapter, NDArray, NDArray, NDArray)} recording the decomposition's seed. */
    public static void setFactors(
            LoraAdapter adapter, NDArray a, NDArray b, NDArray w32, Long seed) {
        String original = BaseFingerprint.of(w32);
        NDArray w = adapter.base().weight().getArray();
        NDIndex all = new NDIndex("...");
        // PEFT casts the factors to the base's dtype before computing the offset (lora_ga_init;
        // PiSSA's factors reach that dtype when the adapter moves to the base layer): with float32
        // adapters over a half base their values are the half dtype's
        DataType baseType = w.getDataType();
        adapter.loraA()
                .getArray()
                .set(
                        all,
                        a.toType(baseType, false)
                                .toType(adapter.loraA().getArray().getDataType(), false));
        adapter.loraB()
                .getArray()
                .set(
                        all,
                        b.toType(baseType, false)
                                .toType(adapter.loraB().getArray().getDataType(), false));
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
        record(adapter, original, seed);
    }

    /**
     * Records the adapter's current factors as {@code A0}, {@code B0} and the fingerprint of its
     * current base weight, which the factors have not changed yet (B = 0: LoRA-GA before its data
     * pass).
     */
    public static void recordResidual(LoraAdapter adapter) {
        record(adapter, BaseFingerprint.of(adapter.base().weight().getArray()), null);
    }

    private static void record(LoraAdapter adapter, String original, Long seed) {
        ResidualState old = adapter.initState(ResidualState.class);
        if (old != null) {
            old.close();
        }
        NDArray a0 = adapter.loraA().getArray().duplicate();
        NDArray b0 = adapter.loraB().getArray().duplicate();
        a0.setName("lora_A0");
        b0.setName("lora_B0");
        adapter.setInitState(
                new ResidualState(
                        a0,
                        b0,
                        BaseFingerprint.of(adapter.base().weight().getArray()),
                        original,
                        seed,
                        false));
    }

    /** Whether PEFT redoes this initialization when it loads a folder (PiSSA, OLoRA). */
    protected abstract boolean redoneAtLoad();

    /**
     * Redoes the decomposition of the adapter's (original) base weight with {@code seed} (used only
     * by randomized decompositions): sets A0, B0 and the residual base through {@link #setFactors}.
     * Initializers with {@link #redoneAtLoad} implement it.
     */
    protected void decompose(LoraAdapter adapter, long seed) {
        throw new UnsupportedOperationException(name() + " is not redone at load");
    }

    /** Whether the decomposition draws random numbers, so that its seed is saved. */
    protected boolean randomized(LoraConfig config) {
        return false;
    }

    /**
     * Throws when the decomposition cannot run on the adapter's base (a rank above min(out, in)),
     * before anything is changed; by default accepts.
     */
    protected void checkApplicable(LoraAdapter adapter) {
        // most decompositions apply to every Linear
    }

    /** Throws unless the adapter's rank is at most {@code min(out, in)} of its base weight. */
    protected static void requireRankAtMostMinDimension(LoraAdapter adapter, String method) {
        NDArray w = adapter.base().weight().getArray();
        long k = Math.min(w.getShape().get(0), w.getShape().get(1));
        if (adapter.rank() > k) {
            throw new IllegalArgumentException(
                    method
                            + " needs r <= min(out, in) = "
                            + k
                            + " for module '"
                            + adapter.modulePath()
                            + "', got r = "
                            + adapter.rank());
        }
    }

    @Override
    public boolean meantForOriginalBase(LoraAdapter adapter) {
        ResidualState state = adapter.initState(ResidualState.class);
        return redoneAtLoad() && (state == null || !state.legacy());
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
                            + " loaded from a file onto the residual base, not initialized in this"
                            + " session); convert it in the session that initialized it");
        }
        return PlainLoraConversion.tensors(adapter, state.a0(), state.b0(), scope);
    }

    @Override
    public Map<String, String> checkpointMetadata(LoraAdapter adapter) {
        ResidualState state = adapter.initState(ResidualState.class);
        if (state == null) {
            return Map.of();
        }
        if (!redoneAtLoad() || state.legacy() || state.original() == null) {
            return Map.of(BaseFingerprint.KEY, state.fingerprint());
        }
        Map<String, String> m = new LinkedHashMap<>();
        m.put(BaseFingerprint.ORIGINAL_KEY, state.original());
        if (state.seed() != null) {
            m.put(SEED_KEY, Long.toString(state.seed()));
        }
        return m;
    }

    @Override
    public void checkBeforeLoad(LoraAdapter adapter, Map<String, String> metadata, String source) {
        NDArray w = adapter.base().weight().getArray();
        String residual = metadata.get(BaseFingerprint.KEY);
        String original = metadata.get(BaseFingerprint.ORIGINAL_KEY);
        if (redoneAtLoad() && original != null) {
            checkApplicable(adapter);
            BaseFingerprint.check(
                    BaseFingerprint.ORIGINAL_KEY,
                    original,
                    w,
                    adapter.modulePath(),
                    source,
                    "the adapter is for the original base weights (init_lora_weights '"
                            + adapter.config().initLoraWeights()
                            + "' is redone on them at load, as PEFT does)",
                    "Load it onto the original model, not onto one whose base was already"
                            + " modified.");
        } else if (residual != null) {
            BaseFingerprint.check(residual, w, adapter.modulePath(), name(), source);
        } else if (redoneAtLoad()) {
            checkApplicable(adapter);
        } else {
            LOG.warn(
                    "{}: module '{}' has no '{}' metadata (saved by another tool?): cannot check"
                            + " that the base weight is the residual one its initialization"
                            + " produced",
                    source,
                    adapter.modulePath(),
                    BaseFingerprint.KEY);
        }
    }

    @Override
    public void verifyLoaded(LoraAdapter adapter, Map<String, String> metadata, String source) {
        String residual = metadata.get(BaseFingerprint.KEY);
        if (!redoneAtLoad()
                || (residual != null && !metadata.containsKey(BaseFingerprint.ORIGINAL_KEY))) {
            if (redoneAtLoad()) {
                LOG.warn(
                        "{}: module '{}' was saved for the residual base by an earlier peft4j and"
                                + " is loaded as such; PEFT loads a '{}' folder onto the original"
                                + " base and redoes the decomposition, so give PEFT the converted"
                                + " folder (SaveOption.FOR_ORIGINAL_BASE, from the session that"
                                + " trained it)",
                        source,
                        adapter.modulePath(),
                        name());
            }
            if (residual != null) {
                adapter.setInitState(
                        new ResidualState(null, null, residual, null, null, redoneAtLoad()));
            }
            return;
        }
        LoraConfig config = adapter.config();
        long seed;
        String saved = metadata.get(SEED_KEY);
        if (saved != null) {
            try {
                seed = Long.parseLong(saved);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        source
                                + ": metadata '"
                                + SEED_KEY
                                + "' of module '"
                                + adapter.modulePath()
                                + "' must be an integer, got '"
                                + saved
                                + "'");
            }
        } else {
            seed = adapter.context().layerSeed(config.initSeed());
            if (randomized(config)) {
                LOG.warn(
                        "{}: module '{}' has no '{}' metadata: redoing the randomized '{}'"
                                + " decomposition with seed {} (PEFT draws new random numbers each"
                                + " time it loads such a folder, so no load reproduces the"
                                + " training's residual exactly)",
                        source,
                        adapter.modulePath(),
                        SEED_KEY,
                        config.initLoraWeights(),
                        config.initSeed());
            }
        }
        NDIndex all = new NDIndex("...");
        try (NDArray a = adapter.loraA().getArray().duplicate();
                NDArray b = adapter.loraB().getArray().duplicate()) {
            decompose(adapter, seed);
            adapter.loraA().getArray().set(all, a);
            adapter.loraB().getArray().set(all, b);
        }
    }

    /** The initializer's name for messages ({@code "pissa"}). */
    protected abstract String name();
}
