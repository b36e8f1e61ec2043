package dev.peft4j.adapters.nola;

import com.google.gson.JsonObject;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/**
 * NOLA (Koohpayegani et al. 2024, "NOLA: Compressing LoRA using Linear Combination of Random
 * Basis"): LoRA factors rebuilt from frozen random bases, {@code A = A0 + sum_i alpha_i A_i},
 * {@code B = sum_j beta_j B_j}; only the {@code k_A + k_B} coefficients train, whatever the rank
 * and layer size. The bases come from a seed (saved here, {@code nola_seed}) through the
 * counter-based generator, so a checkpoint holds the seed and the coefficients only.
 *
 * <p>Defaults: r 8 and alpha 8 as PEFT's LoRA; {@code k_A = k_B = 1024} as the paper's LLaMA-2
 * runs. Resident bases cost {@code 4 k r (m + n)} bytes per layer; with
 * {@link Builder#optRegenerateBases} they are regenerated chunk by chunk instead.
 */
public final class NolaConfig extends AdapterConfig {

    /** The {@code peft_type} of NOLA adapters (PEFT has no NOLA; the name is ours). */
    public static final String PEFT_TYPE = "NOLA";

    /**
     * Adam 5e-3, ten times LoRA's: NOLA trains only the mixing coefficients of frozen random bases,
     * which start at zero and move the weights through sums of about 1,000 bases, so it needs a
     * larger step (the rate of the method table in docs/benchmarks.md).
     */
    public static final float RECOMMENDED_LEARNING_RATE = 5e-3f;

    private final int r;
    private final double alpha;
    private final int numBasisA;
    private final int numBasisB;
    private final long seed;
    private final boolean regenerateBases;
    private final int basisChunk;

    private NolaConfig(Builder b) {
        super(b);
        this.r = b.r;
        this.alpha = b.alpha;
        this.numBasisA = b.numBasisA;
        this.numBasisB = b.numBasisB;
        this.seed = b.seed;
        this.regenerateBases = b.regenerateBases;
        this.basisChunk = b.basisChunk;
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

    /** The rank r of the rebuilt factors. */
    public int r() {
        return r;
    }

    /** The alpha of the scaling {@code s = alpha / r}. */
    public double alpha() {
        return alpha;
    }

    /** The scaling {@code s = alpha / r}. */
    public double scaling() {
        return alpha / r;
    }

    /** Number of A bases {@code k_A} (length of {@code nola_alpha}). */
    public int numBasisA() {
        return numBasisA;
    }

    /** Number of B bases {@code k_B} (length of {@code nola_beta}). */
    public int numBasisB() {
        return numBasisB;
    }

    /** The seed of the bases; each layer derives its own from it and its module path. */
    public long seed() {
        return seed;
    }

    /** Whether bases are regenerated in chunks at each use rather than kept in memory. */
    public boolean regenerateBases() {
        return regenerateBases;
    }

    /** Bases per chunk when regenerating. */
    public int basisChunk() {
        return basisChunk;
    }

    @Override
    public Adapter createAdapter(AdapterContext context) {
        return new NolaAdapter(context, this);
    }

    @Override
    protected void writeFields(JsonObject o) {
        o.addProperty("r", r);
        o.addProperty("lora_alpha", ConfigJson.jsonNumber(alpha));
        o.addProperty("num_basis_a", numBasisA);
        o.addProperty("num_basis_b", numBasisB);
        o.addProperty("nola_seed", seed);
        o.addProperty("regenerate_bases", regenerateBases);
        o.addProperty("basis_chunk", basisChunk);
    }

    /** Parses a NOLA config; {@code num_basis_a}, {@code num_basis_b} and {@code nola_seed} are required. */
    public static NolaConfig fromJson(ConfigJson json) {
        Builder b = builder().readCommon(json);
        b.r = json.getInt("r", 8);
        b.alpha = json.getDouble("lora_alpha", 8);
        // the bases depend on these three: a default could silently rebuild other bases
        json.require("num_basis_a");
        json.require("num_basis_b");
        json.require("nola_seed");
        b.numBasisA = json.getInt("num_basis_a", 0);
        b.numBasisB = json.getInt("num_basis_b", 0);
        b.seed = json.getLong("nola_seed", 0);
        b.regenerateBases = json.getBoolean("regenerate_bases", false);
        b.basisChunk = json.getInt("basis_chunk", b.basisChunk);
        return b.build();
    }

    /** Builds a {@link NolaConfig}. */
    public static final class Builder extends AdapterConfig.Builder<Builder> {
        private int r = 8;
        private double alpha = 8;
        private int numBasisA = 1024;
        private int numBasisB = 1024;
        private long seed;
        private boolean regenerateBases;
        private int basisChunk = 64;

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /** The rank r of the rebuilt factors (default 8). */
        public Builder optRank(int r) {
            this.r = r;
            return this;
        }

        /** The alpha of the scaling {@code alpha / r} (default 8, as PEFT's LoRA). */
        public Builder optAlpha(double alpha) {
            this.alpha = alpha;
            return this;
        }

        /** Numbers of A and B bases, {@code k_A} and {@code k_B} (default 1024 each). */
        public Builder optNumBases(int numBasisA, int numBasisB) {
            this.numBasisA = numBasisA;
            this.numBasisB = numBasisB;
            return this;
        }

        /** The seed of the bases (default 0). */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Regenerates the bases chunk by chunk at each forward and merge instead of keeping them
         * in memory (default false); outputs and gradients are the same.
         */
        public Builder optRegenerateBases(boolean regenerate) {
            this.regenerateBases = regenerate;
            return this;
        }

        /** Bases per chunk when regenerating (default 64). */
        public Builder optBasisChunk(int basisChunk) {
            this.basisChunk = basisChunk;
            return this;
        }

        @Override
        public NolaConfig build() {
            validate();
            if (r <= 0) {
                throw new IllegalArgumentException("NOLA rank r must be positive, got " + r);
            }
            if (numBasisA <= 0 || numBasisB <= 0) {
                throw new IllegalArgumentException(
                        "num_basis_a and num_basis_b must be positive, got "
                                + numBasisA
                                + " and "
                                + numBasisB);
            }
            if (!Double.isFinite(alpha)) {
                throw new IllegalArgumentException("lora_alpha must be finite, got " + alpha);
            }
            if (basisChunk <= 0) {
                throw new IllegalArgumentException(
                        "basis_chunk must be positive, got " + basisChunk);
            }
            return new NolaConfig(this);
        }
    }
}
