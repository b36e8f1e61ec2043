package dev.peft4j.models.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Replaces the data of named initializers in a serialized {@code ModelProto} and keeps every other
 * byte: the graph, its nodes, opsets, metadata and the other initializers are copied field by field
 * as they were, so a runtime that ran the original runs the result the same way. A replaced
 * initializer keeps its name, dims and data type; its {@code float_data} or {@code raw_data} becomes
 * one {@code raw_data} field.
 */
final class OnnxRewrite {

    private static final int MODEL_GRAPH = 7;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int TENSOR_FLOAT_DATA = 4;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_RAW_DATA = 9;

    private OnnxRewrite() {}

    /**
     * Rewrites {@code model}.
     *
     * @param model the bytes of an {@code .onnx} file
     * @param data little-endian element bytes by initializer name, each exactly as long as the
     *     initializer's present data
     * @param origin what to call the model in errors
     * @return the new model's bytes
     * @throws IllegalArgumentException if a name is not an initializer of the graph or a length
     *     differs
     */
    static byte[] replaceInitializers(ByteBuffer model, Map<String, byte[]> data, String origin) {
        Set<String> done = new HashSet<>();
        ByteArrayOutputStream out = new ByteArrayOutputStream(model.remaining() + 1024);
        ProtoReader reader = new ProtoReader(model, 0);
        boolean graph = false;
        while (reader.hasNext()) {
            int start = reader.position();
            int field = reader.nextField();
            if (field == MODEL_GRAPH && reader.wireType() == ProtoReader.LENGTH_DELIMITED) {
                if (graph) {
                    throw new IllegalArgumentException(origin + ": ModelProto holds two graphs");
                }
                graph = true;
                byte[] g = rewriteGraph(reader.message(reader.bytes()), data, done, origin);
                writeLengthDelimited(out, MODEL_GRAPH, g);
            } else {
                reader.skip();
                write(out, reader.span(start, reader.position()));
            }
        }
        for (String name : data.keySet()) {
            if (!done.contains(name)) {
                throw new IllegalArgumentException(
                        origin + ": the graph has no initializer '" + name + "' to replace");
            }
        }
        return out.toByteArray();
    }

    private static byte[] rewriteGraph(
            ProtoReader reader, Map<String, byte[]> data, Set<String> done, String origin) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 20);
        while (reader.hasNext()) {
            int start = reader.position();
            int field = reader.nextField();
            if (field == GRAPH_INITIALIZER && reader.wireType() == ProtoReader.LENGTH_DELIMITED) {
                ByteBuffer tensor = reader.bytes();
                String name = name(new ProtoReader(tensor, 0));
                byte[] values = data.get(name);
                if (values == null) {
                    write(out, reader.span(start, reader.position()));
                } else {
                    if (!done.add(name)) {
                        throw new IllegalArgumentException(
                                origin + ": two initializers are named '" + name + "'");
                    }
                    writeLengthDelimited(
                            out,
                            GRAPH_INITIALIZER,
                            rewriteTensor(new ProtoReader(tensor, 0), values, name, origin));
                }
            } else {
                reader.skip();
                write(out, reader.span(start, reader.position()));
            }
        }
        return out.toByteArray();
    }

    private static String name(ProtoReader tensor) {
        String name = "";
        while (tensor.hasNext()) {
            if (tensor.nextField() == TENSOR_NAME) {
                name = tensor.string();
            } else {
                tensor.skip();
            }
        }
        return name;
    }

    private static byte[] rewriteTensor(
            ProtoReader reader, byte[] values, String name, String origin) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(values.length + 256);
        long old = 0;
        while (reader.hasNext()) {
            int start = reader.position();
            int field = reader.nextField();
            if (field == TENSOR_RAW_DATA
                    || (field == TENSOR_FLOAT_DATA
                            && reader.wireType() == ProtoReader.LENGTH_DELIMITED)) {
                old += reader.bytes().remaining();
            } else if (field == TENSOR_FLOAT_DATA) {
                reader.skip();
                old += 4;
            } else {
                reader.skip();
                write(out, reader.span(start, reader.position()));
            }
        }
        if (old != values.length) {
            throw new IllegalArgumentException(
                    origin
                            + ": initializer '"
                            + name
                            + "' holds "
                            + old
                            + " bytes; its replacement has "
                            + values.length);
        }
        writeLengthDelimited(out, TENSOR_RAW_DATA, values);
        return out.toByteArray();
    }

    private static void writeLengthDelimited(ByteArrayOutputStream out, int field, byte[] value) {
        writeVarint(out, ((long) field << 3) | ProtoReader.LENGTH_DELIMITED);
        writeVarint(out, value.length);
        out.writeBytes(value);
    }

    private static void writeVarint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static void write(ByteArrayOutputStream out, ByteBuffer span) {
        byte[] b = new byte[span.remaining()];
        span.duplicate().get(b);
        out.writeBytes(b);
    }
}
