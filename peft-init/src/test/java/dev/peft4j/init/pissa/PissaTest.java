package dev.peft4j.init.pissa;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.SequentialBlock;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.TinyModels;
import dev.peft4j.init.Planted;
import org.junit.jupiter.api.Test;

/** PiSSA against a weight with a planted spectrum, whose exact principal part is known by construction. */
class PissaTest extends ManagedTest {

    private static final int M = 10;
    private static final int N = 8;
    private static final int R = 3;

    /** Singular values with a gap after the third, so the randomized SVD with q = r converges fast. */
    private static final double[] S = {9, 7, 5, 0.5, 0.4, 0.3, 0.2, 0.1};

    private static final double[][] U = Planted.orthonormal(M, N, 1);
    private static final double[][] V = Planted.orthonormal(N, N, 2);

    private LoraAdapter init(String init, double alpha, boolean rslora) {
        SequentialBlock block = Planted.linear(manager, Planted.product(U, S, V, N));
        LoraConfig config =
                LoraConfig.builder()
                        .optRank(R)
                        .optAlpha(alpha)
                        .optUseRslora(rslora)
                        .optInitLoraWeights(init)
                        .setTargetModules("0")
                        .build();
        return (LoraAdapter) PeftModel.create(block, config).adapters(PeftModel.DEFAULT).get("0");
    }

    @Test
    void exactModeSplitsThePrincipalPartAndBalancesTheFactors() {
        LoraAdapter a = init("pissa", 6, false);
        double s = 2; // alpha / r
        assertEquals(s, a.scaling(), 0);
        NDArray loraA = a.loraA().getArray();
        NDArray loraB = a.loraB().getArray();
        NDArray principal = Planted.create(manager, Planted.product(U, S, V, R));
        assertAlmostEquals(loraB.matMul(loraA).mul(s), principal, 1e-5, 1e-5);
        NDArray expectedGram =
                manager.create(
                        new float[] {4.5f, 0, 0, 0, 3.5f, 0, 0, 0, 2.5f},
                        new Shape(R, R)); // diag(S_r / s)
        assertAlmostEquals(loraA.matMul(loraA.transpose()), expectedGram, 1e-5, 1e-5);
        assertAlmostEquals(loraB.transpose().matMul(loraB), expectedGram, 1e-5, 1e-5);
        NDArray residual = Planted.create(manager, Planted.product(U, S, V, N)).sub(principal);
        assertAlmostEquals(a.base().weight().getArray(), residual, 1e-5, 1e-5);
    }

    @Test
    void outputIsUnchangedAtStepZero() {
        SequentialBlock block = Planted.linear(manager, Planted.product(U, S, V, N));
        NDArray x = TinyModels.input(manager, new Shape(5, N), 4);
        NDArray before = TinyModels.forward(block, x);
        PeftModel pm =
                PeftModel.create(
                        block,
                        LoraConfig.builder()
                                .optRank(R)
                                .optAlpha(3)
                                .optInitLoraWeights("pissa")
                                .setTargetModules("0")
                                .build());
        assertFalse(
                pm.adapters(PeftModel.DEFAULT)
                        .get("0")
                        .base()
                        .weight()
                        .getArray()
                        .allClose(Planted.create(manager, Planted.product(U, S, V, N))),
                "the base must be the residual");
        assertAlmostEquals(TinyModels.forward(pm.root(), x), before, 1e-5, 1e-6);
    }

    @Test
    void fastModeWithQEqualRMatchesExactOnAGappedSpectrum() {
        LoraAdapter exact = init("pissa", 4, true);
        LoraAdapter fast = init("pissa_niter_4", 4, true);
        double s = 4 / Math.sqrt(R); // rsLoRA
        assertEquals(s, fast.scaling(), 1e-12);
        assertAlmostEquals(
                fast.loraB().getArray().matMul(fast.loraA().getArray()),
                exact.loraB().getArray().matMul(exact.loraA().getArray()),
                1e-4,
                1e-5);
        assertAlmostEquals(
                fast.base().weight().getArray(), exact.base().weight().getArray(), 1e-4, 1e-5);
    }

    @Test
    void namesAreParsedAndBadRanksRefused() {
        PissaInitializer pissa = new PissaInitializer();
        assertTrue(
                pissa.handles("pissa")
                        && pissa.handles("pissa_niter_16")
                        && pissa.handles("pissa_niter_0"));
        assertFalse(
                pissa.handles("pissa_niter_")
                        || pissa.handles("pissa_niter_x")
                        || pissa.handles("olora"));
        assertEquals(-1, PissaInitializer.niter("pissa"));
        assertEquals(16, PissaInitializer.niter("pissa_niter_16"));
        SequentialBlock block = Planted.linear(manager, Planted.product(U, S, V, N));
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () ->
                                PeftModel.create(
                                        block,
                                        LoraConfig.builder()
                                                .optRank(N + 1)
                                                .optInitLoraWeights("pissa")
                                                .setTargetModules("0")
                                                .build()));
        assertTrue(
                e.getMessage().contains("'0'") && e.getMessage().contains("r <= min"),
                e.getMessage());
    }
}
