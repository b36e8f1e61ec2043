"""Writes the seed corpus of SafetensorsFuzzTest: small valid safetensors files, one per dtype and
layout the reader supports (the format: an 8-byte little-endian header length, a JSON header with
dtype, shape and data_offsets per tensor and optional __metadata__, then the data).

    python3 safetensors_corpus.py   (from this folder)
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "../../../../../resources/dev/peft4j/core/io/"
                   "SafetensorsFuzzTestInputs/readerRefusesBadFilesCleanly")
SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
         "BOOL": 1}


def write(name, tensors, metadata=None, pad=0):
    header, data = {}, b""
    for key, (dtype, shape) in tensors.items():
        n = 1
        for d in shape:
            n *= d
        raw = bytes((i * 37 + 11) % 256 for i in range(n * SIZES[dtype]))
        if dtype == "BOOL":
            raw = bytes(b & 1 for b in raw)
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode() + b" " * pad
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


os.makedirs(OUT, exist_ok=True)
for dtype in SIZES:
    write(dtype.lower() + ".safetensors", {"layer.weight": (dtype, [2, 3])})
write("two-tensors-metadata.safetensors",
      {"base_model.model.q.lora_A.weight": ("F32", [2, 4]),
       "base_model.model.q.lora_B.weight": ("F32", [4, 2])},
      metadata={"format": "pt"})
write("scalar-and-empty.safetensors", {"s": ("F32", []), "e": ("F32", [0, 5])}, pad=7)
write("empty-header.safetensors", {})
