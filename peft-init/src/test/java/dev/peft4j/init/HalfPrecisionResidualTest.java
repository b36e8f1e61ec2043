package dev.peft4j.init;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import dev.peft4j.adapters.lora.LoraAdapter;
import dev.peft4j.adapters.lora.LoraConfig;
import dev.peft4j.core.PeftModel;
import dev.peft4j.core.testing.ManagedTest;
import dev.peft4j.core.testing.TinyModels;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * PiSSA and OLoRA over a float16 base: float32 factors holding float16 values (PEFT's factors
 * reach the base's dtype before they are cast to float32), the residual {@code W - s B A}
 * computed in float32 from those stored factors and rounded once to float16 (the offset from the
 * factors as cast, as PEFT's lora_ga_init does), so the step-0 output is the base's up to that
 * rounding. bfloat16 cannot be tested: DJL 0.36 aborts on creating bfloat16 tensors.
 */
class HalfPrecisionResidualTest extends ManagedTest {

    private Block base() {
        SequentialBlock root = new SequentialBlock();
        root.add(Linear.builder().setUnits(6).optBias(false).build());
        TinyModels.init(root, manager, new Shape(1, 5), 4, DataType.FLOAT16);
        return root;
    }

    @ParameterizedTest
    @ValueSource(strings = {"pissa", "olora"})
    void residualIsRoundedOnceFromTheStoredFactors(String init) {
        Block root = base();
        NDArray w0 =
                root.getChildren()
                        .get(0)
                        .getValue()
                        .getParameters()
                        .get("weight")
                        .getArray()
                        .toType(DataType.FLOAT32, true);
        NDArray x = TinyModels.input(manager, new Shape(3, 5), 2).toType(DataType.FLOAT16, false);
        NDArray before = TinyModels.forward(root, x).toType(DataType.FLOAT32, false);
        PeftModel pm =
                PeftModel.create(
                        root,
                        LoraConfig.builder()
                                .optRank(2)
                                .optAlpha(4)
                                .optInitLoraWeights(init)
                                .setTargetModules("0")
                                .build());
        LoraAdapter layer = (LoraAdapter) pm.adapters(PeftModel.DEFAULT).get("0");
        NDArray a = layer.loraA().getArray();
        NDArray b = layer.loraB().getArray();
        assertEquals(DataType.FLOAT32, a.getDataType());
        assertAlmostEquals(
                a.toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false), a, 0, 0);
        assertAlmostEquals(
                b.toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false), b, 0, 0);
        NDArray residual = layer.base().weight().getArray();
        assertEquals(DataType.FLOAT16, residual.getDataType());
        NDArray expected =
                w0.sub(b.matMul(a).mul(layer.scaling()))
                        .toType(DataType.FLOAT16, false)
                        .toType(DataType.FLOAT32, false);
        assertAlmostEquals(residual.toType(DataType.FLOAT32, false), expected, 0, 0);
        assertAlmostEquals(
                TinyModels.forward(pm.root(), x).toType(DataType.FLOAT32, false),
                before,
                2e-3,
                2e-3);
    }
}
