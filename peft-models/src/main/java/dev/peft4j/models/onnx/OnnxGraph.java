package dev.peft4j.models.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of an ONNX model that weight import needs: the graph's initializers and its nodes
 * (op type, inputs, outputs). Everything else in the protobuf is skipped.
 *
 * @param initializers the graph's constant tensors
 * @param nodes the graph's operators in file order
 */
public record OnnxGraph(List<Initializer> initializers, List<Node> nodes) {

    // ModelProto.graph; GraphProto.node / initializer
    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_INITIALIZER = 5;
    // NodeProto
    private static final int NODE_INPUT = 1;
    private static final int NODE_OUTPUT = 2;
    private static final int NODE_OP_TYPE = 4;
    // TensorProto
    private static final int TENSOR_DIMS = 1;
    private static final int TENSOR_DATA_TYPE = 2;
    private static final int TENSOR_FLOAT_DATA = 4;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;
    private static final int TENSOR_DATA_LOCATION = 14;

    /**
     * One initializer: its data stays a slice of the model's bytes until loaded.
     *
     * @param name the initializer's name
     * @param dims its shape
     * @param dataType the ONNX {@code TensorProto.DataType} code
     * @param data little-endian element bytes ({@code raw_data}, or the packed {@code float_data})
     * @param offset where {@code data} starts in the file (-1 for unpacked values gathered here)
     */
    public record Initializer(
            String name, long[] dims, int dataType, ByteBuffer data, long offset) {}

    /**
     * One operator.
     *
     * @param opType the ONNX op ({@code MatMul}, {@code Add}...)
     * @param inputs the names of its inputs
     * @param outputs the names of its outputs
     */
    public record Node(String opType, List<String> inputs, List<String> outputs) {}

    /**
     * Parses a serialized {@code ModelProto}.
     *
     * @param model the bytes of an {@code .onnx} file
     * @return its graph
     * @throws IllegalArgumentException if the bytes hold no graph or an initializer is unreadable
     */
    public static OnnxGraph parse(ByteBuffer model) {
        ProtoReader reader = new ProtoReader(model, 0);
        while (reader.hasNext()) {
            if (reader.nextField() == MODEL_GRAPH
                    && reader.wireType() == ProtoReader.LENGTH_DELIMITED) {
                return parseGraph(reader.message(reader.bytes()));
            }
            reader.skip();
        }
        throw new IllegalArgumentException("ONNX model has no graph (ModelProto field 7)");
    }

    private static OnnxGraph parseGraph(ProtoReader reader) {
        List<Initializer> initializers = new ArrayList<>();
        List<Node> nodes = new ArrayList<>();
        while (reader.hasNext()) {
            int field = reader.nextField();
            if (field == GRAPH_NODE) {
                nodes.add(parseNode(reader.message(reader.bytes())));
            } else if (field == GRAPH_INITIALIZER) {
                initializers.add(parseTensor(reader.message(reader.bytes())));
            } else {
                reader.skip();
            }
        }
        return new OnnxGraph(initializers, nodes);
    }

    private static Node parseNode(ProtoReader reader) {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String opType = "";
        while (reader.hasNext()) {
            int field = reader.nextField();
            if (field == NODE_INPUT) {
                inputs.add(reader.string());
            } else if (field == NODE_OUTPUT) {
                outputs.add(reader.string());
            } else if (field == NODE_OP_TYPE) {
                opType = reader.string();
            } else {
                reader.skip();
            }
        }
        return new Node(opType, List.copyOf(inputs), List.copyOf(outputs));
    }

    private static Initializer parseTensor(ProtoReader reader) {
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = "";
        ByteBuffer raw = null;
        ByteBuffer floats = null;
        List<Float> unpackedFloats = new ArrayList<>();
        long rawOffset = -1;
        long floatsOffset = -1;
        boolean external = false;
        while (reader.hasNext()) {
            int field = reader.nextField();
            int wire = reader.wireType();
            if (field == TENSOR_DIMS && wire == ProtoReader.VARINT) {
                dims.add(reader.varint());
            } else if (field == TENSOR_DIMS && wire == ProtoReader.LENGTH_DELIMITED) {
                ProtoReader packed = reader.message(reader.bytes());
                while (packed.hasNext()) {
                    dims.add(packed.varint());
                }
            } else if (field == TENSOR_DATA_TYPE) {
                dataType = (int) reader.varint();
            } else if (field == TENSOR_FLOAT_DATA && wire == ProtoReader.LENGTH_DELIMITED) {
                floats = reader.bytes();
                floatsOffset = reader.sliceOffset();
            } else if (field == TENSOR_FLOAT_DATA && wire == ProtoReader.FIXED32) {
                unpackedFloats.add(reader.fixed32Float());
            } else if (field == TENSOR_NAME) {
                name = reader.string();
            } else if (field == TENSOR_RAW_DATA) {
                raw = reader.bytes();
                rawOffset = reader.sliceOffset();
            } else if (field == TENSOR_DATA_LOCATION) {
                external = reader.varint() == 1;
            } else {
                reader.skip();
            }
        }
        if (external) {
            throw new IllegalArgumentException(
                    "ONNX initializer '" + name + "' uses external data, which is not supported");
        }
        ByteBuffer data = raw != null ? raw : floats != null ? floats : pack(unpackedFloats);
        long offset = raw != null ? rawOffset : floats != null ? floatsOffset : -1;
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        return new Initializer(name, shape, dataType, data, offset);
    }

    private static ByteBuffer pack(List<Float> values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.size()).order(ByteOrder.LITTLE_ENDIAN);
        values.forEach(b::putFloat);
        return b.flip();
    }
}
