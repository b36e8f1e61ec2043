#!/usr/bin/env python3
"""PyTorch checkpoint files (.bin) written byte for byte as torch.save writes them, without torch,
for TorchBinReaderTest; and a malicious pickle that the reader must refuse.

torch.save (torch/serialization.py, pytorch/pytorch 31d1cf19, _save): the object is pickled with
protocol 2 into <archive>/data.pkl, every storage is a persistent id ('storage', storage_type,
key, location, numel) and its bytes go, uncompressed, to <archive>/data/<key>; a tensor pickles as
torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
backward_hooks) (torch/_tensor.py __reduce_ex__); a state dict is an OrderedDict with a _metadata
attribute (pickled as a BUILD of its __dict__). Newer writers add <archive>/byteorder ("little") and
<archive>/version ("3"). The stub modules below make Python's own pickler emit exactly those
GLOBAL names.

Regenerate with:
  python3 torch_bin_fixture.py ../../../../../resources/dev/peft4j/core/io/torch
"""
import collections
import json
import os
import pickle
import sys
import types
import zipfile

import numpy as np

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch
sys.modules["torch._utils"] = utils


def _rebuild_tensor_v2(*args):
    raise RuntimeError("never called when writing")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, key, data):
        self.key, self.data = key, data


for name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "LongStorage"):
    cls = type(name, (Storage,), {"__module__": "torch"})
    setattr(torch, name, cls)


class Tensor:
    def __init__(self, storage, offset, shape):
        self.storage, self.offset, self.shape = storage, offset, tuple(shape)
        stride, acc = [], 1
        for s in reversed(self.shape):
            stride.insert(0, acc)
            acc *= s
        self.stride = tuple(stride)

    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            numel = len(obj.data) // {"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8}[type(obj).__name__]
            return ("storage", type(obj), obj.key, "cpu", numel)
        return None


def bf16_bytes(x):
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded.tobytes(), rounded.astype(np.uint32) << 16


def write(path, state, storages):
    buf = __import__("io").BytesIO()
    Pickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        # fixed entry dates, so that regenerating gives the same bytes
        def put(name, data):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)

        put("archive/data.pkl", buf.getvalue())
        put("archive/byteorder", "little")
        for s in storages:
            put(f"archive/data/{s.key}", s.data)
        put("archive/version", "3\n")


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261208)
    fused = np.float32(rng.standard_normal(12 * 4))  # one storage, two tensors at offsets 0 and 32
    s0 = torch.FloatStorage("0", fused.tobytes())
    half = np.float16(rng.standard_normal(6))
    s1 = torch.HalfStorage("1", half.tobytes())
    bf_raw = np.float32(rng.standard_normal(5))
    bf_bytes, bf_bits = bf16_bytes(bf_raw)
    s2 = torch.BFloat16Storage("2", bf_bytes)
    ids = np.arange(7, dtype=np.int64)
    s3 = torch.LongStorage("3", ids.tobytes())
    state = collections.OrderedDict()
    state["layer.q.weight"] = Tensor(s0, 0, (8, 4))
    state["layer.k.weight"] = Tensor(s0, 32, (4, 4))
    state["norm.weight"] = Tensor(s1, 0, (6,))
    state["head.weight"] = Tensor(s2, 0, (5,))
    state["position_ids"] = Tensor(s3, 0, (1, 7))
    state._metadata = collections.OrderedDict([("", {"version": 1})])
    write(os.path.join(out, "pytorch_model.bin"), state, [s0, s1, s2, s3])
    expected = {
        "layer.q.weight": fused[:32].reshape(8, 4).tolist(),
        "layer.k.weight": fused[32:].reshape(4, 4).tolist(),
        "norm.weight": half.astype(np.float32).tolist(),
        "head.weight": bf_bits.view(np.float32).tolist(),
        "position_ids": ids.reshape(1, 7).tolist(),
    }
    # the same state dict in two shards with an index, as transformers' save_pretrained writes it
    shard_dir = os.path.join(out, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    a = collections.OrderedDict([("layer.q.weight", state["layer.q.weight"]), ("layer.k.weight", state["layer.k.weight"])])
    b = collections.OrderedDict([("norm.weight", state["norm.weight"]), ("head.weight", state["head.weight"]), ("position_ids", state["position_ids"])])
    write(os.path.join(shard_dir, "pytorch_model-00001-of-00002.bin"), a, [s0])
    write(os.path.join(shard_dir, "pytorch_model-00002-of-00002.bin"), b, [s1, s2, s3])
    with open(os.path.join(shard_dir, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": {
            **{k: "pytorch_model-00001-of-00002.bin" for k in a}, **{k: "pytorch_model-00002-of-00002.bin" for k in b}}}, f)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > pwned.txt",))

    buf = __import__("io").BytesIO()
    pickle.Pickler(buf, protocol=2).dump(collections.OrderedDict([("w", Evil())]))
    with zipfile.ZipFile(os.path.join(out, "evil.bin"), "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())
    with open(os.path.join(out, "legacy.bin"), "wb") as f:
        f.write(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))  # the legacy format's magic number first
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
