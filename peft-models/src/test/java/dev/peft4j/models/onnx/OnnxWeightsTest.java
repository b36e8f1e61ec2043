package dev.peft4j.models.onnx;

import static dev.peft4j.core.testing.NdAssert.assertAlmostEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.peft4j.models.io.HfWeights;
import dev.peft4j.models.io.LoadOptions;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** ONNX initializer import on small models encoded here in protobuf wire format. */
class OnnxWeightsTest {

    private static final float[] M = {1, 2, 3, 4, 5, 6}; // [in 2, out 3]
    private static final float[] BIAS = {0.5f, -1, 2};

    @Test
    void namesMatMulWeightsThroughTheGraphAndTransposes() throws Exception {
        byte[] model =
                model(
                        List.of(
                                tensorRaw("onnx::MatMul_7", new long[] {2, 3}, M),
                                tensorPacked("lin.bias", new long[] {3}, BIAS),
                                tensorUnpacked("norm.weight", new long[] {2}, new float[] {7, 8})),
                        List.of(
                                node("MatMul", List.of("x", "onnx::MatMul_7"), "mm"),
                                node("Add", List.of("lin.bias", "mm"), "y")));
        OnnxWeights weights = OnnxWeights.of(ByteBuffer.wrap(model), "tiny");
        assertEquals(List.of("lin.weight", "lin.bias", "norm.weight"), weights.keys());
        assertEquals(new Shape(3, 2), weights.info("lin.weight").shape());
        try (NDManager manager = NDManager.newBaseManager()) {
            // HF weight [out, in] is the transpose of the ONNX MatMul operand [in, out]
            assertAlmostEquals(
                    weights.load("lin.weight", manager).toFloatArray(),
                    new float[] {1, 4, 2, 5, 3, 6},
                    0,
                    0);
            assertAlmostEquals(weights.load("lin.bias", manager).toFloatArray(), BIAS, 0, 0);
            assertAlmostEquals(
                    weights.load("norm.weight", manager).toFloatArray(), new float[] {7, 8}, 0, 0);
        }
    }

    @Test
    void aNonFiniteInitializerIsRefusedAtLoadNamingTheTensorAndTheFile() throws Exception {
        float[] weight = {1, 2, 3, 4, Float.NaN, 6}; // HF layout [out 3, in 2]
        byte[] model =
                model(
                        List.of(
                                tensorRaw("weight", new long[] {3, 2}, weight),
                                tensorPacked(
                                        "bias",
                                        new long[] {3},
                                        new float[] {0, Float.POSITIVE_INFINITY, 0})),
                        List.of());
        OnnxWeights weights = OnnxWeights.of(ByteBuffer.wrap(model), "tiny.onnx");
        try (NDManager manager = NDManager.newBaseManager()) {
            Linear linear = Linear.builder().setUnits(3).build();
            linear.initialize(manager, DataType.FLOAT32, new Shape(1, 2));
            float[] before = linear.getParameters().get("weight").getArray().toFloatArray();
            IllegalArgumentException e =
                    assertThrows(
                            IllegalArgumentException.class,
                            () -> HfWeights.load(linear, weights, LoadOptions.strict()));
            assertTrue(e.getMessage().contains("tiny.onnx"), e.getMessage());
            assertTrue(e.getMessage().contains("'weight' contains NaN or Inf"), e.getMessage());
            assertTrue(e.getMessage().contains("'bias' contains NaN or Inf"), e.getMessage());
            assertAlmostEquals(
                    linear.getParameters().get("weight").getArray().toFloatArray(), before, 0, 0);
        }
    }

    @Test
    void unmappedMatMulWeightIsNamed() {
        byte[] model =
                model(
                        List.of(tensorRaw("onnx::MatMul_9", new long[] {2, 3}, M)),
                        List.of(
                                node("MatMul", List.of("x", "onnx::MatMul_9"), "mm"),
                                node("Relu", List.of("mm"), "y")));
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> OnnxWeights.of(ByteBuffer.wrap(model), "tiny"));
        assertTrue(e.getMessage().contains("onnx::MatMul_9"), e.getMessage());
    }

    @Test
    void truncatedTensorDataIsNamed() {
        byte[] model = model(List.of(tensorRaw("lin.bias", new long[] {4}, BIAS)), List.of());
        IllegalArgumentException e =
                assertThrows(
                        IllegalArgumentException.class,
                        () -> OnnxWeights.of(ByteBuffer.wrap(model), "tiny"));
        assertTrue(e.getMessage().contains("lin.bias"), e.getMessage());
    }

    // --- a minimal protobuf encoder: ModelProto.graph = 7, GraphProto.node = 1 / initializer = 5

    private static byte[] model(List<byte[]> initializers, List<byte[]> nodes) {
        Wire graph = new Wire();
        nodes.forEach(n -> graph.bytes(1, n));
        initializers.forEach(t -> graph.bytes(5, t));
        Wire model = new Wire();
        model.varint(1, 8); // ir_version, a field the reader must skip
        model.bytes(7, graph.toBytes());
        return model.toBytes();
    }

    private static byte[] node(String op, List<String> inputs, String output) {
        Wire w = new Wire();
        inputs.forEach(i -> w.string(1, i));
        w.string(2, output);
        w.string(4, op);
        return w.toBytes();
    }

    private static Wire tensorHead(String name, long[] dims) {
        Wire w = new Wire();
        for (long d : dims) {
            w.varint(1, d);
        }
        w.varint(2, 1); // FLOAT
        w.string(8, name);
        return w;
    }

    private static byte[] tensorRaw(String name, long[] dims, float[] values) {
        Wire w = tensorHead(name, dims);
        w.bytes(9, floats(values));
        return w.toBytes();
    }

    private static byte[] tensorPacked(String name, long[] dims, float[] values) {
        Wire w = tensorHead(name, dims);
        w.bytes(4, floats(values));
        return w.toBytes();
    }

    private static byte[] tensorUnpacked(String name, long[] dims, float[] values) {
        Wire w = tensorHead(name, dims);
        for (float v : values) {
            w.fixed32(4, v);
        }
        return w.toBytes();
    }

    private static byte[] floats(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private static final class Wire {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void varint(int field, long value) {
            raw((long) field << 3);
            raw(value);
        }

        void bytes(int field, byte[] data) {
            raw(((long) field << 3) | 2);
            raw(data.length);
            out.writeBytes(data);
        }

        void string(int field, String s) {
            bytes(field, s.getBytes(StandardCharsets.UTF_8));
        }

        void fixed32(int field, float v) {
            raw(((long) field << 3) | 5);
            out.writeBytes(
                    ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array());
        }

        private void raw(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }
}
