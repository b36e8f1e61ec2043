"""Writes the seed corpus of OnnxFuzzTest: small ONNX models in protobuf wire format, as the
reader sees them (ModelProto.graph = 7; GraphProto.node = 1, initializer = 5; NodeProto.input = 1,
output = 2, op_type = 4; TensorProto.dims = 1, data_type = 2, float_data = 4, name = 8,
raw_data = 9), the same shapes OnnxWeightsTest builds.

    python3 onnx_corpus.py   (from this folder)
"""
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "../../../../../resources/dev/peft4j/models/onnx/"
                   "OnnxFuzzTestInputs/weightsRefuseBadModelsCleanly")


def varint(v):
    out = b""
    while v & ~0x7F:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def field_varint(f, v):
    return varint(f << 3) + varint(v)


def field_bytes(f, b):
    return varint((f << 3) | 2) + varint(len(b)) + b


def tensor(name, dims, values, mode):
    t = b"".join(field_varint(1, d) for d in dims) + field_varint(2, 1) + field_bytes(8, name.encode())
    packed = b"".join(struct.pack("<f", v) for v in values)
    if mode == "raw":
        return t + field_bytes(9, packed)
    if mode == "packed":
        return t + field_bytes(4, packed)
    return t + b"".join(varint((4 << 3) | 5) + struct.pack("<f", v) for v in values)


def node(op, inputs, output):
    return b"".join(field_bytes(1, i.encode()) for i in inputs) + field_bytes(2, output.encode()) \
        + field_bytes(4, op.encode())


def model(initializers, nodes):
    graph = b"".join(field_bytes(1, n) for n in nodes) + b"".join(field_bytes(5, t) for t in initializers)
    return field_varint(1, 8) + field_bytes(7, graph)


os.makedirs(OUT, exist_ok=True)
linear = model([tensor("onnx::MatMul_7", [2, 3], [1, 2, 3, 4, 5, 6], "raw"),
                tensor("lin.bias", [3], [0.5, -1, 2], "packed"),
                tensor("norm.weight", [2], [7, 8], "unpacked")],
               [node("MatMul", ["x", "onnx::MatMul_7"], "mm"), node("Add", ["lin.bias", "mm"], "y")])
with open(os.path.join(OUT, "linear-and-norm.onnx"), "wb") as f:
    f.write(linear)
with open(os.path.join(OUT, "named-only.onnx"), "wb") as f:
    f.write(model([tensor("a.weight", [2, 2], [1, 2, 3, 4], "raw")], []))
with open(os.path.join(OUT, "empty-graph.onnx"), "wb") as f:
    f.write(model([], []))
