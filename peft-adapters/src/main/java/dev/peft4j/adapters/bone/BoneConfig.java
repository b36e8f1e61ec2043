package dev.peft4j.adapters.bone;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bone and Bat (Kang and Yin 2024, "Bone: Block-Affine Adaptation"), saved the way PEFT saves
 * them since it renamed the method MiSS: {@code peft_type} "MISS", {@code init_weights} true
 * (Bone), false (Bone with a random block, for tests) or "bat".
 *
 * <p>Bone: {@code y = W x + (sum_j x_j) b}, {@code x_j} the width-r blocks of {@code x},
 * {@code b [r, out]}. Bat: {@code W_ij + W_ij b_i + b_i} on the r x r blocks of {@code W}, with
 * {@code b [out/r, r, r]}. Both start from {@code b = 0} and have no scaling. The defaults are
 * PEFT's (r 64, dropout 0).
 */
public final class BoneConfig extends AdapterConfig {

    private static final Logger LOG = LoggerFactory.getLogger(BoneConfig.class);

    /** PEFT's {@code peft_type} for Bone, Bat and MiSS. */
    public static final String PEFT_TYPE = "MISS";

    /**
     * Adam 1e-3, for Bone and Bat: twice LoRA's, since the block starts at zero with no {@code alpha
     * / r} scaling in front of it (the rate of the method table in docs/benchmarks.md).
     */
    public static final float RECOMMENDED_LEARNING_RATE = 1e-3f;

    /** The two variants, told apart by PEFT's {@code init_weights}. */
    public enum Variant {
        /** Block-shared: one {@code [r, out]} block for all input blocks. */
        BONE,
        /** Block-affine: {@code dW_ij = W_ij b_i + b_i}, one {@code r x r} block per output block. */
        BAT
    }

    private final int r;
    private final double dropout;
    private final Variant variant;
    private final boolean randomInit;
    private final long initSeed;

    private BoneConfig(Builder b) {
        super(b);
        this.r = b.r;
        this.dropout = b.dropout;
        this.variant = b.variant;
        this.randomInit = b.randomInit;
        this.initSeed = b.initSeed;
    }

    /** A new builder. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public String peftType() {
        return PEFT_TYPE;
    }

    @Override
    public float recommendedLearningRate() {
        return RECOMMENDED_LEARNING_RATE;
    }

    /** The block size r. */
    public int r() {
        return r;
    }

    /** Dropout on Bone's input while training (Bat ignores it, as PEFT does). */
    public double dropout() {
        return dropout;
    }

    /** Bone or Bat. */
    public Variant variant() {
        return variant;
    }

    /** Whether Bone's block starts random (PEFT's {@code init_weights} false) rather than zero. */
    public boolean randomInit() {
        return randomInit;
    }

    /** The seed of the random block (only with {@link #randomInit()}; not saved). */
    public long initSeed() {
        return initSeed;
    }

    @Override
    public Adapter createAdapter(AdapterContext context) {
        return variant == Variant.BAT
                ? new BatAdapter(context, this)
                : new BoneAdapter(context, this);
    }

    @Override
    protected void writeFields(JsonObject o) {
        o.addProperty("r", r);
        o.addProperty("miss_dropout", dropout);
        if (variant == Variant.BAT) {
            o.addProperty("init_weights", "bat");
        } else {
            o.addProperty("init_weights", !randomInit);
        }
        o.addProperty("mini_r", 1);
        o.addProperty("bias", "none");
        // as PEFT writes them when unset (the shared fields write them when set)
        if (!o.has("layers_to_transform")) {
            o.add("layers_to_transform", JsonNull.INSTANCE);
        }
        if (!o.has("layers_pattern")) {
            o.add("layers_pattern", JsonNull.INSTANCE);
        }
    }

    /** Parses PEFT's MiSS config; the "mini" variant and options we do not implement are errors. */
    public static BoneConfig fromJson(ConfigJson json) {
        Builder b = builder().readCommon(json);
        b.r = json.getInt("r", 64);
        b.dropout = json.getDouble("miss_dropout", 0);
        JsonElement init = json.get("init_weights");
        String initValue = init == null ? "true" : init.getAsString();
        switch (initValue) {
            case "true":
                break;
            case "false":
                b.randomInit = true;
                break;
            case "bat":
                b.variant = Variant.BAT;
                break;
            default:
                throw json.error(
                        "init_weights = "
                                + init
                                + " is not supported by peft4j (true, false or \"bat\")");
        }
        json.get("mini_r"); // only used by the "mini" variant
        String bias = json.getString("bias", "none");
        if (!"none".equals(bias)) {
            throw json.error("bias = \"" + bias + "\" is not supported by peft4j (only \"none\")");
        }
        return b.build();
    }

    /** Builds a {@link BoneConfig}. */
    public static final class Builder extends AdapterConfig.Builder<Builder> {
        private int r = 64;
        private double dropout;
        private Variant variant = Variant.BONE;
        private boolean randomInit;
        private long initSeed;

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /** The block size r (default 64, as PEFT); Bat needs it to divide both weight dimensions. */
        public Builder optRank(int r) {
            this.r = r;
            return this;
        }

        /** Bone (default) or Bat. */
        public Builder optVariant(Variant variant) {
            this.variant = variant;
            return this;
        }

        /** Dropout probability on Bone's input while training (default 0). */
        public Builder optDropout(double dropout) {
            this.dropout = dropout;
            return this;
        }

        /** Starts Bone's block Kaiming-uniform instead of zero (PEFT's {@code init_weights} false). */
        public Builder optRandomInit(boolean randomInit) {
            this.randomInit = randomInit;
            return this;
        }

        /** Seed of the random block (default 0); each module mixes in its path. */
        public Builder optInitSeed(long seed) {
            this.initSeed = seed;
            return this;
        }

        @Override
        public BoneConfig build() {
            validate();
            if (r <= 0) {
                throw new IllegalArgumentException("MiSS block size r must be positive, got " + r);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException(
                        "miss_dropout must be in [0, 1), got " + dropout);
            }
            if (variant == null) {
                throw new IllegalArgumentException("variant must be BONE or BAT, got null");
            }
            if (variant == Variant.BAT && randomInit) {
                throw new IllegalArgumentException(
                        "random init (init_weights false) is a Bone option; Bat starts at zero");
            }
            if (variant == Variant.BAT && dropout > 0) {
                LOG.warn(
                        "miss_dropout {} is ignored by Bat (its change is a weight, as in PEFT)",
                        dropout);
            }
            return new BoneConfig(this);
        }
    }
}
