"""Writes .safetensors files with NumPy (the format: an 8-byte little-endian header length, the
JSON header with "__metadata__" first and each tensor's dtype, shape and data offsets, padded with
spaces to a multiple of 8, then the raw little-endian data), for the fixture scripts beside the
tests. Scripts import it by path from peft-core/src/test/java/dev/peft4j/core/io."""
import json
import os
import struct

import numpy as np


def save_safetensors(path, tensors, metadata=None):
    """Writes float32 tensors (a name -> array dict, in order) to path, creating its folder."""
    header = {"__metadata__": {"format": "pt"} if metadata is None else metadata}
    offset, blobs = 0, []
    for name, value in tensors.items():
        data = np.asarray(value, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(value)), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
