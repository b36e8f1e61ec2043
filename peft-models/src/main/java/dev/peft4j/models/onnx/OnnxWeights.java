package dev.peft4j.models.onnx;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.peft4j.core.io.TensorInfo;
import dev.peft4j.core.io.TensorSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights of an ONNX export of an HF model, under their HF names.
 *
 * <p>Exporters keep HF names for biases and norms but rename the matrix of every {@code nn.Linear}
 * to an anonymous {@code onnx::MatMul_NNN} initializer stored {@code [in, out]}. Each such matrix
 * is named through the graph (the {@code MatMul} consuming it feeds an {@code Add} with the
 * layer's named bias, so {@code x.query.bias} names it {@code x.query.weight}) and transposed to
 * HF's {@code [out, in]} on load.
 */
public final class OnnxWeights implements TensorSource {

    private static final Map<Integer, DataType> DTYPES =
            Map.of(
                    1, DataType.FLOAT32,
                    7, DataType.INT64,
                    6, DataType.INT32,
                    10, DataType.FLOAT16,
                    11, DataType.FLOAT64,
                    2, DataType.UINT8,
                    3, DataType.INT8,
                    9, DataType.BOOLEAN);

    private final String origin;
    private final ByteBuffer model;
    private final Map<String, Tensor> tensors;

    private record Tensor(
            OnnxGraph.Initializer source, DataType dtype, Shape shape, boolean transposed) {}

    private OnnxWeights(String origin, ByteBuffer model, Map<String, Tensor> tensors) {
        this.origin = origin;
        this.model = model;
        this.tensors = tensors;
    }

    /**
     * Reads the weights of an {@code .onnx} file (memory-mapped, so the file is not copied).
     *
     * @param file the ONNX file
     * @return the weights
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if an initializer cannot be named or read
     */
    public static OnnxWeights read(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer model = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            return of(model, file.toString());
        }
    }

    /**
     * Reads the weights of an ONNX model from a stream (e.g. a class-path resource).
     *
     * @param in the stream, read to its end (not closed)
     * @param origin what to call the model in error messages
     * @return the weights
     * @throws IOException if the stream cannot be read
     */
    public static OnnxWeights read(InputStream in, String origin) throws IOException {
        return of(ByteBuffer.wrap(in.readAllBytes()), origin);
    }

    /**
     * Names the weights of a parsed ONNX model.
     *
     * @param model the bytes of the model
     * @param origin what to call the model in error messages
     * @return the weights
     * @throws IllegalArgumentException if an anonymous matrix cannot be named, two initializers get
     *     the same name, or an initializer has an unsupported dtype or inconsistent size
     */
    public static OnnxWeights of(ByteBuffer model, String origin) {
        OnnxGraph graph;
        try {
            graph = OnnxGraph.parse(model);
        } catch (IllegalArgumentException e) {
            // the wire-format reader knows bytes, not files: name the model here
            throw new IllegalArgumentException(origin + ": " + e.getMessage(), e);
        }
        Map<String, String> matmulNames = nameMatMulWeights(graph);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (OnnxGraph.Initializer init : graph.initializers()) {
            String hfName = matmulNames.get(init.name());
            boolean transposed = hfName != null;
            if (!transposed) {
                if (init.name().startsWith("onnx::")) {
                    throw new IllegalArgumentException(
                            origin
                                    + ": cannot map initializer '"
                                    + init.name()
                                    + "' to an HF name: it is not the weight of a MatMul"
                                    + " followed by an Add with a named bias");
                }
                hfName = init.name();
            }
            Tensor t = tensor(origin, init, transposed);
            if (tensors.put(hfName, t) != null) {
                throw new IllegalArgumentException(
                        origin + ": two initializers map to the HF name '" + hfName + "'");
            }
        }
        return new OnnxWeights(origin, model.duplicate(), tensors);
    }

    /** Maps each initializer used as a MatMul's right operand to {@code <bias layer>.weight}. */
    private static Map<String, String> nameMatMulWeights(OnnxGraph graph) {
        Set<String> initializerNames = new HashSet<>();
        graph.initializers().forEach(i -> initializerNames.add(i.name()));
        Map<String, OnnxGraph.Node> addByInput = new HashMap<>();
        for (OnnxGraph.Node node : graph.nodes()) {
            if (node.opType().equals("Add")) {
                node.inputs().forEach(in -> addByInput.put(in, node));
            }
        }
        Map<String, String> names = new HashMap<>();
        for (OnnxGraph.Node node : graph.nodes()) {
            if (!node.opType().equals("MatMul")
                    || node.inputs().size() != 2
                    || node.outputs().isEmpty()
                    || !initializerNames.contains(node.inputs().get(1))) {
                continue;
            }
            OnnxGraph.Node add = addByInput.get(node.outputs().get(0));
            String bias = add == null ? null : namedBias(add, initializerNames);
            if (bias != null) {
                names.put(node.inputs().get(1), bias.substring(0, bias.length() - 4) + "weight");
            }
        }
        return names;
    }

    private static String namedBias(OnnxGraph.Node add, Set<String> initializerNames) {
        for (String in : add.inputs()) {
            if (in.endsWith(".bias") && initializerNames.contains(in)) {
                return in;
            }
        }
        return null;
    }

    private static Tensor tensor(String origin, OnnxGraph.Initializer init, boolean transposed) {
        DataType dtype = DTYPES.get(init.dataType());
        if (dtype == null || (transposed && dtype != DataType.FLOAT32)) {
            throw new IllegalArgumentException(
                    origin
                            + ": initializer '"
                            + init.name()
                            + "' has unsupported ONNX data_type "
                            + init.dataType());
        }
        long[] dims = init.dims();
        long elements = 1;
        for (long d : dims) {
            if (d < 0 || (d > 0 && elements > Long.MAX_VALUE / 16 / d)) {
                throw new IllegalArgumentException(
                        origin
                                + ": initializer '"
                                + init.name()
                                + "' has impossible dims "
                                + Arrays.toString(dims));
            }
            elements *= d;
        }
        Shape shape = new Shape(dims);
        if (init.data().remaining() != elements * dtype.getNumOfBytes()) {
            throw new IllegalArgumentException(
                    origin
                            + ": initializer '"
                            + init.name()
                            + "' holds "
                            + init.data().remaining()
                            + " bytes, expected "
                            + shape.size()
                            + " x "
                            + dtype.getNumOfBytes()
                            + " for shape "
                            + shape);
        }
        if (transposed) {
            if (dims.length != 2) {
                throw new IllegalArgumentException(
                        origin
                                + ": MatMul weight '"
                                + init.name()
                                + "' has shape "
                                + shape
                                + ", expected 2 dimensions");
            }
            shape = new Shape(dims[1], dims[0]);
        }
        return new Tensor(init, dtype, shape, transposed);
    }

    /** The HF names, in initializer order. */
    @Override
    public List<String> keys() {
        return List.copyOf(tensors.keySet());
    }

    /** {@inheritDoc} */
    @Override
    public boolean contains(String key) {
        return tensors.containsKey(key);
    }

    /**
     * Describes one tensor; its byte range is that of the initializer's data in the ONNX file
     * (stored {@code [in, out]} for a renamed MatMul weight).
     */
    @Override
    public TensorInfo info(String key) {
        Tensor t = get(key);
        ByteBuffer data = t.source().data();
        return new TensorInfo(
                key, t.dtype(), t.shape(), Math.max(t.source().offset(), 0), data.remaining());
    }

    /** Loads one tensor as an independent copy, converted to {@code target}. */
    @Override
    public NDArray load(String key, NDManager manager, DataType target) {
        Tensor t = get(key);
        ByteBuffer data = t.source().data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        NDArray stored =
                t.transposed()
                        ? manager.create(transpose(data.asFloatBuffer(), t.shape()), t.shape())
                        : manager.create(copy(data), t.shape(), t.dtype());
        return stored.toType(target, false);
    }

    /**
     * The ONNX model these weights came from, with some of them replaced: the same graph, nodes,
     * opsets and metadata, and every other initializer as it was, so every runtime that ran the
     * original runs the result. Values are given under their HF names and in HF's layout; a
     * renamed MatMul weight is transposed back to the {@code [in, out]} the graph multiplies by.
     *
     * @param values float32 tensors by HF name, each of the shape {@link #info} reports
     * @return the bytes of the new {@code .onnx} file
     * @throws IllegalArgumentException if a name is unknown or a dtype or shape differs
     */
    public byte[] withValues(Map<String, NDArray> values) {
        Map<String, byte[]> data = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : values.entrySet()) {
            Tensor t = get(e.getKey());
            NDArray a = e.getValue();
            if (t.dtype() != DataType.FLOAT32
                    || a.getDataType() != DataType.FLOAT32
                    || !a.getShape().equals(t.shape())) {
                throw new IllegalArgumentException(
                        origin
                                + ": tensor '"
                                + e.getKey()
                                + "' is "
                                + t.dtype()
                                + " "
                                + t.shape()
                                + " in the model; its replacement is "
                                + a.getDataType()
                                + " "
                                + a.getShape());
            }
            float[] v = a.toFloatArray();
            if (t.transposed()) {
                // HF [out, in] back to the stored [in, out]
                v = transpose(FloatBuffer.wrap(v), new Shape(t.shape().get(1), t.shape().get(0)));
            }
            ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            data.put(t.source().name(), b.array());
        }
        return OnnxRewrite.replaceInitializers(model.duplicate(), data, origin);
    }

    /** Nothing to release: the model's bytes are held by this object and freed with it. */
    @Override
    public void close() {}

    private static ByteBuffer copy(ByteBuffer data) {
        ByteBuffer out = ByteBuffer.allocateDirect(data.remaining()).order(ByteOrder.nativeOrder());
        return out.put(data).flip();
    }

    private static float[] transpose(FloatBuffer inOut, Shape outIn) {
        int rows = Math.toIntExact(outIn.get(0));
        int cols = Math.toIntExact(outIn.get(1));
        float[] out = new float[rows * cols];
        // source is [cols, rows] row-major: element (c, r) at c * rows + r
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) {
                out[r * cols + c] = inOut.get(c * rows + r);
            }
        }
        return out;
    }

    private Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) {
            throw new IllegalArgumentException(origin + " has no tensor '" + key + "'");
        }
        return t;
    }

    /**
     * Returns the HF names of the tensors that were renamed from anonymous MatMul weights.
     *
     * @return the names of transposed tensors
     */
    public List<String> transposedKeys() {
        return tensors.entrySet().stream()
                .filter(e -> e.getValue().transposed())
                .map(Map.Entry::getKey)
                .toList();
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return origin;
    }
}
