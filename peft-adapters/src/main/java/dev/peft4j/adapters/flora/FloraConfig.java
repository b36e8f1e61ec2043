package dev.peft4j.adapters.flora;

import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;
import dev.peft4j.core.tree.BaseLayer;
import java.util.EnumSet;
import java.util.Set;

/**
 * FLoRA (Si et al. 2024, "FLoRA: Low-Rank Core Space for N-dimension"): the weight change of a
 * layer with modes {@code dims = [in, out, k_1, ...]} is a Tucker product
 * {@code dW = scale * (G x_0 P_0 x_1 P_1 ...)} with its first two axes swapped, core
 * {@code G [r_0, r_1, ...]} (zeros at init) and factors {@code P_i [dims_i, r_i]} drawn from
 * {@code N(0, 1 / (2 r_i))}; all of them train. A Linear layer has 2 modes ({@code in, out}), a
 * Conv2d 4 ({@code in / groups, out, kh, kw}).
 *
 * <p>Defaults: r 8 on the in/out modes, so a square layer trains {@code 64 + 16 d} values,
 * LoRA r 8's budget; the kernel modes of a convolution keep full rank (their size, 3 for a 3x3
 * kernel): they are tiny, so full rank costs little and keeps every spatial pattern reachable;
 * scale 1.0 as in the authors' reference code.
 */
public final class FloraConfig extends AdapterConfig {

    /** This project's {@code peft_type} for FLoRA (PEFT has no FLoRA). */
    public static final String PEFT_TYPE = "FLORA";

    /**
     * Adam 1e-3: twice LoRA's, since the Tucker core starts at zero and the change is {@code scale}
     * 1 times a product of four small factors (the rate of the method table in docs/benchmarks.md).
     */
    public static final float RECOMMENDED_LEARNING_RATE = 1e-3f;

    private final int r;
    private final Integer kernelR;
    private final double scale;
    private final long initSeed;

    private FloraConfig(Builder b) {
        super(b);
        this.r = b.r;
        this.kernelR = b.kernelR;
        this.scale = b.scale;
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

    /** The rank of the in and out modes. */
    public int r() {
        return r;
    }

    /** The rank of every kernel mode, or null when each kernel mode keeps its full size. */
    public Integer kernelR() {
        return kernelR;
    }

    /** The factor {@code scale} in front of the Tucker product. */
    public double scale() {
        return scale;
    }

    /** The seed of the factors' random initialization (combined with each module path). */
    public long initSeed() {
        return initSeed;
    }

    /** The Tucker ranks {@code r_i} for a layer's modes {@code [in, out, k...]}. */
    public int[] ranksFor(long[] modeSizes) {
        int[] ranks = new int[modeSizes.length];
        for (int i = 0; i < ranks.length; i++) {
            ranks[i] = i < 2 ? r : kernelR == null ? Math.toIntExact(modeSizes[i]) : kernelR;
        }
        return ranks;
    }

    @Override
    public Set<BaseLayer.Kind> supportedLayers() {
        return EnumSet.of(BaseLayer.Kind.LINEAR, BaseLayer.Kind.CONV2D);
    }

    @Override
    public Adapter createAdapter(AdapterContext context) {
        return new FloraAdapter(context, this);
    }

    @Override
    protected void writeFields(JsonObject o) {
        o.addProperty("r", r);
        if (kernelR == null) {
            o.add("kernel_r", JsonNull.INSTANCE);
        } else {
            o.addProperty("kernel_r", kernelR);
        }
        o.addProperty("scale", scale);
        o.addProperty("init_seed", initSeed);
    }

    /** Parses a FLoRA config ({@code peft_type} "FLORA"). */
    public static FloraConfig fromJson(ConfigJson json) {
        Builder b = builder().readCommon(json);
        b.r = json.getInt("r", b.r);
        b.kernelR = json.has("kernel_r") ? json.getInt("kernel_r", 0) : null;
        b.scale = json.getDouble("scale", b.scale);
        b.initSeed = json.getLong("init_seed", b.initSeed);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw json.error(e.getMessage());
        }
    }

    /** Builds a {@link FloraConfig}. */
    public static final class Builder extends AdapterConfig.Builder<Builder> {
        private int r = 8;
        private Integer kernelR;
        private double scale = 1.0;
        private long initSeed;

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /** The rank of the in and out modes (default 8). */
        public Builder optRank(int r) {
            this.r = r;
            return this;
        }

        /** The rank of every kernel mode of a convolution (default: the kernel size of that mode). */
        public Builder optKernelRank(int kernelR) {
            this.kernelR = kernelR;
            return this;
        }

        /** The factor in front of the Tucker product (default 1.0). */
        public Builder optScale(double scale) {
            this.scale = scale;
            return this;
        }

        /** Seed of the factors' initialization (default 0); each module mixes in its path. */
        public Builder optInitSeed(long seed) {
            this.initSeed = seed;
            return this;
        }

        @Override
        public FloraConfig build() {
            validate();
            if (r <= 0) {
                throw new IllegalArgumentException("FLoRA rank r must be positive, got " + r);
            }
            if (kernelR != null && kernelR <= 0) {
                throw new IllegalArgumentException(
                        "FLoRA kernel_r must be positive (or null for the kernel size), got "
                                + kernelR);
            }
            if (!Double.isFinite(scale)) {
                throw new IllegalArgumentException("FLoRA scale must be finite, got " + scale);
            }
            return new FloraConfig(this);
        }
    }
}
