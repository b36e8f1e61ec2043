package dev.peft4j.init.loraga;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.init.Planted;
import dev.peft4j.init.Reference;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * LoRA-GA's initialization of one layer from a given gradient against {@code loraga_reference.py},
 * a NumPy transcription of PEFT's {@code lora_ga_init}: every direction and scale (and the
 * paper's), with {@code alpha / r} and rsLoRA scaling. Factors agree up to the sign of each
 * singular pair, which neither SVD fixes; the residual base weight agrees with the reference's
 * factors taken with the same signs.
 */
class LoraGaReferenceTest extends ManagedTest {

    private static final JsonObject REF =
            Reference.read(LoraGaReferenceTest.class, "reference.json");
    private static final double RTOL = 1e-4;

    @Test
    void everyDirectionAndScaleIsPefts() {
        double[][] grad = Reference.matrix(REF.get("grad"));
        double[][] weight = Reference.matrix(REF.get("weight"));
        int r = REF.get("r").getAsInt();
        int cases = 0;
        for (JsonElement e : REF.getAsJsonArray("cases")) {
            JsonObject c = e.getAsJsonObject();
            String what =
                    c.get("direction").getAsString()
                            + "/"
                            + c.get("scale").getAsString()
                            + (c.get("use_rslora").getAsBoolean() ? " rslora" : "");
            LoraGaConfig options =
                    new LoraGaConfig(
                            c.get("direction").getAsString(),
                            c.get("scale").getAsString(),
                            REF.get("stable_gamma").getAsDouble());
            PeftModel pm =
                    PeftModel.create(
                            Planted.linear(manager, weight),
                            LoraConfig.builder()
                                    .optRank(r)
                                    .optAlpha(c.get("lora_alpha").getAsDouble())
                                    .optUseRslora(c.get("use_rslora").getAsBoolean())
                                    .optInitLoraWeights(LoraGaInitializer.NAME)
                                    .optInitConfig(LoraGaConfig.KEY, options.toJson())
                                    .setTargetModules("0")
                                    .build());
            LoraAdapter layer = (LoraAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
            NDArray g = Planted.create(manager, grad);
            LoraGa.fromGradient(layer, g, options, 5);

            double[][] refA = Reference.matrix(c.get("lora_A"));
            double[][] refB = Reference.matrix(c.get("lora_B"));
            double[] sa =
                    Reference.rowSigns(
                            Reference.matrix(layer.loraA().getArray()),
                            refA,
                            RTOL,
                            1e-7,
                            what + " lora_A");
            double[] sb =
                    Reference.rowSigns(
                            Reference.transpose(Reference.matrix(layer.loraB().getArray())),
                            Reference.transpose(refB),
                            RTOL,
                            1e-7,
                            what + " lora_B columns");
            Reference.assertClose(
                    Reference.matrix(layer.base().weight().getArray()),
                    Reference.residual(weight, layer.scaling(), refB, sb, refA, sa),
                    RTOL,
                    1e-7,
                    what + " residual weight");
            pm.deleteAdapter(PeftModel.DEFAULT);
            cases++;
        }
        assertEquals(30, cases);
    }

    /**
     * {@code random} takes one set of r of the 2r components for both factors (PEFT: {@code
     * indices = torch.randperm(2 * r)[:r]}, here a permutation from the layer's seed): each row of
     * A is a row of the reference's {@code Vh[:2r]} and the matching column of B the same
     * component of U diag(S) (unit scale), and the seed fixes the draw.
     */
    @Test
    void randomDirectionUsesTheSameComponentsForBothFactors() {
        int r = REF.get("r").getAsInt();
        Set<String> draws = new HashSet<>();
        for (long seed = 0; seed < 8; seed++) {
            int[][] picked = new LoraGaConfig(LoraGaConfig.RANDOM, "unit", 16).components(r, seed);
            assertEquals(Arrays.toString(picked[0]), Arrays.toString(picked[1]));
            assertEquals(r, Arrays.stream(picked[0]).distinct().count());
            Arrays.stream(picked[0]).forEach(i -> assertTrue(i >= 0 && i < 2 * r));
            assertEquals(
                    Arrays.toString(picked[0]),
                    Arrays.toString(
                            new LoraGaConfig(LoraGaConfig.RANDOM, "unit", 16)
                                    .components(r, seed)[0]));
            draws.add(Arrays.toString(picked[0]));
        }
        assertTrue(draws.size() > 1, "the seed changes the draw");
    }
}
