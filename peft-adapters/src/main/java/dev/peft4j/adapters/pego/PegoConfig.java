package dev.peft4j.adapters.pego;

import ai.djl.training.loss.Loss;
import com.google.gson.JsonObject;
import dev.peft4j.core.Adapter;
import dev.peft4j.core.AdapterContext;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.config.AdapterConfig;
import dev.peft4j.core.config.ConfigJson;

/**
 * PEGO (Hu et al. 2024, "Parameter-Efficient Group with Orthogonal regularization for domain
 * generalization"): N LoRA modules on one layer, {@code y = W x + sum_i B_i A_i x}, no alpha / r
 * scaling, {@code A_i} Kaiming-uniform and {@code B_i = 0}, trained with
 * {@code L = task + lambda (L_preserve + L_diversify)} added by {@link PegoRegularizer}.
 *
 * <p>Defaults: r 4 and lambda 1e-3 (methods.md); N 2, the low end of methods.md's 2 to 4, because
 * then {@code N r = 8} gives exactly LoRA r 8's budget ({@code 8 (m + n)} per layer), and because
 * the regularizer keeps {@code N (N + 1) / 2} products of size {@code [out, out]} per layer for the
 * backward pass (3 at N 2, 10 at N 4), which dominates its training memory on wide layers. The
 * recommended optimizer is Adam at learning rate 5e-4 ({@link #recommendedOptimizer()}).
 */
public final class PegoConfig extends AdapterConfig {

    /** This project's {@code peft_type} for PEGO (PEFT has no PEGO). */
    public static final String PEFT_TYPE = "PEGO";

    /** The learning rate methods.md recommends for PEGO with Adam. */
    public static final float RECOMMENDED_LEARNING_RATE = 5e-4f;

    private final int r;
    private final int numLoras;
    private final double regLambda;
    private final long initSeed;

    private PegoConfig(Builder b) {
        super(b);
        this.r = b.r;
        this.numLoras = b.numLoras;
        this.regLambda = b.regLambda;
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

    /** The rank r of each LoRA module. */
    public int r() {
        return r;
    }

    /** The number N of LoRA modules per layer. */
    public int numLoras() {
        return numLoras;
    }

    /** The weight lambda of the orthogonal regularizer. */
    public double regLambda() {
        return regLambda;
    }

    /** The seed of the random initialization (combined with each module path). */
    public long initSeed() {
        return initSeed;
    }

    /** PEGO's preserve + diversify regularizer, added to the task loss by {@link PeftModel#trainingLoss}. */
    @Override
    public Loss regularizer(PeftModel model, String adapterName) {
        return PegoRegularizer.of(model, adapterName);
    }

    @Override
    public Adapter createAdapter(AdapterContext context) {
        return new PegoAdapter(context, this);
    }

    @Override
    protected void writeFields(JsonObject o) {
        o.addProperty("r", r);
        o.addProperty("num_loras", numLoras);
        o.addProperty("reg_lambda", regLambda);
        o.addProperty("init_seed", initSeed);
    }

    /** Parses a PEGO config ({@code peft_type} "PEGO"). */
    public static PegoConfig fromJson(ConfigJson json) {
        Builder b = builder().readCommon(json);
        b.r = json.getInt("r", b.r);
        b.numLoras = json.getInt("num_loras", b.numLoras);
        b.regLambda = json.getDouble("reg_lambda", b.regLambda);
        b.initSeed = json.getLong("init_seed", b.initSeed);
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw json.error(e.getMessage());
        }
    }

    /** Builds a {@link PegoConfig}. */
    public static final class Builder extends AdapterConfig.Builder<Builder> {
        private int r = 4;
        private int numLoras = 2;
        private double regLambda = 1e-3;
        private long initSeed;

        private Builder() {}

        @Override
        protected Builder self() {
            return this;
        }

        /** The rank of each LoRA module (default 4). */
        public Builder optRank(int r) {
            this.r = r;
            return this;
        }

        /** The number of LoRA modules per layer (default 2). */
        public Builder optNumLoras(int numLoras) {
            this.numLoras = numLoras;
            return this;
        }

        /** The weight of the orthogonal regularizer (default 1e-3). */
        public Builder optRegLambda(double regLambda) {
            this.regLambda = regLambda;
            return this;
        }

        /** Seed of the initialization (default 0); each module mixes in its path. */
        public Builder optInitSeed(long seed) {
            this.initSeed = seed;
            return this;
        }

        @Override
        public PegoConfig build() {
            validate();
            if (r <= 0) {
                throw new IllegalArgumentException("PEGO rank r must be positive, got " + r);
            }
            if (numLoras <= 0) {
                throw new IllegalArgumentException(
                        "PEGO num_loras must be positive, got " + numLoras);
            }
            if (!(regLambda >= 0) || Double.isInfinite(regLambda)) {
                throw new IllegalArgumentException(
                        "PEGO reg_lambda must be finite and >= 0, got " + regLambda);
            }
            return new PegoConfig(this);
        }
    }
}
