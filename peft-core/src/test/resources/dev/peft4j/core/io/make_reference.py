"""Writes reference.safetensors with the reference implementation (Hugging Face safetensors, Rust).

Regenerate: python3 make_reference.py   (needs `safetensors` and `numpy`; tested with 0.8.0 / 2.4.6)
SafetensorsReferenceTest recomputes every value below from the same formulas, reads this file
with SafetensorsReader, and rewrites it with SafetensorsWriter expecting identical bytes.
"""
import numpy as np
from safetensors import TensorSpec, serialize

f32 = ((np.arange(12, dtype=np.float32) - 5) / 4).reshape(3, 4)           # exact in f16 and bf16 too
tensors = {
    "f64": np.arange(6, dtype=np.float64).reshape(2, 3) * 1.5 - 2,
    "f32": f32,
    "f16": f32.astype(np.float16),
    "bf16": (f32.view(np.uint32) >> 16).astype(np.uint16),              # raw bfloat16 bits
    "i64": np.arange(5, dtype=np.int64) * -1_000_000_000_000,
    "i32": np.arange(4, dtype=np.int32) * -70_000,
    "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
    "u8": np.array([0, 1, 200, 255], dtype=np.uint8),
    "bool": np.array([True, False, True], dtype=np.bool_),
    "scalar": np.array(3.5, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
}
dtype_names = {"bf16": "bfloat16"}
specs = {
    name: TensorSpec(dtype=dtype_names.get(name, a.dtype.name), shape=list(a.shape),
                     data_ptr=a.ctypes.data, data_len=a.nbytes)
    for name, a in tensors.items()
}
with open("reference.safetensors", "wb") as f:
    f.write(bytes(serialize(specs, metadata={"format": "pt"})))
