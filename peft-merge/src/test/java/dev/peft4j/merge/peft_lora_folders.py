#!/usr/bin/env python3
"""PiSSA, OLoRA, lora_bias, DoRA, Embedding-LoRA and Conv2d-LoRA adapter folders as PEFT writes them, and what PEFT computes when it
loads them onto the original model, transcribed with NumPy from PEFT's source (huggingface/peft 5d602fdb),
independently of the Java code, for PeftLoraFoldersTest.

What PEFT writes (save_pretrained without path_initial_model_for_weight_conversion,
src/peft/peft_model.py 334-356, 396-400): the config as it is, init_lora_weights still "pissa" /
"olora", and the trained factors under base_model.model.<module>.lora_A.weight / lora_B.weight in
adapter_model.safetensors with metadata {"format": "pt"}. The trained factors here are arbitrary
values (what training would have left).

What PEFT computes at load (PeftModel.from_pretrained -> inject_adapter -> LoraLayer.update_layer,
src/peft/tuners/lora/layer.py 288-296): the initialization runs again on the base it is loaded onto,
then the file's factors overwrite lora_A and lora_B:
  pissa_init (429-460): V, S, Uh = svd(W float32); Vr = V[:, :r], Sr = S[:r] / scaling, Uhr = Uh[:r];
      A = diag(sqrt(Sr)) Uhr, B = Vr diag(sqrt(Sr)); W <- W - scaling B A.
  olora_init (384-427): Q, R = qr(W float32); B = Q[:, :r], A = R[:r]; W <- W - scaling B A.
Then the forward (Linear.forward 1035-1063) is W_res x + scaling B_file (A_file x), and
merge_and_unload adds get_delta_weight (1005-1028) = scaling B_file A_file to W_res.
Both products B A of the decompositions are invariant under the sign choices of the SVD and QR.

lora_bias (layer.py 264: lora_B = nn.Linear(r, out, bias=lora_bias)): the forward adds
scaling * (B_file A_file x + b_file) (1063: lora_B(...) * scaling), and merge (915-1003) adds
scaling B A to the weight and scaling * lora_B.bias to the base bias (959 and 978: base_layer.bias + lora_B.bias
* scaling). The base has a bias here.

DoRA (use_dora; tuners/lora/dora.py DoraLinearLayer, variants.py DoraLinearVariant), saved under
base_model.model.<module>.lora_magnitude_vector (model.py 988-1003 strips ".weight" from
lora_magnitude_vector.default.weight): with n = ||W + s (B A).detach()|| per output row (dora.py
get_weight_norm 86-91, torch.linalg.norm(weight, dim=1)), detached (dora.py 143-152), and c = m / n:
the forward without dropout adds (c - 1) (result - bias) + c s B A x to result = W x + bias
(dora.py 154-165, variants.py 233-247); merging (variants.py merge_safe 170-188) sets
W <- c (W + s B A), the bias unchanged. The gradients of L = sum(y * G) follow with n constant:
dL/dm = sum_batch G (W x + s B A x) / n, dL/dB = s (G c)^T (A x), dL/dA = s B^T (G c)^T x.
A fresh DoRA layer starts with m = ||W + s B A|| = ||W|| (dora.py update_layer 102-130; B = 0).

LoRA on an embedding (layer.py class Embedding, 1099-1478): lora_embedding_A [r, num] and
lora_embedding_B [dim, r] (1189-1192), saved under those names (ParameterDict entries); the forward
adds (F.embedding(ids, A.T) @ B.T) * scaling (1421-1460), with no dropout; the merge adds
get_delta_weight = transpose(B @ A, True) * scaling = s (B A)^T (1328-1351).

LoRA on a Conv2d (layer.py class _ConvNd, 1479-1773, and Conv2d 1775-1795): lora_A is a Conv2d(in, r,
kernel_size, stride, padding, bias=False) and lora_B a Conv2d(r, out, 1x1, stride 1, bias=lora_bias)
(1553-1562), saved as lora_A.weight [r, in, kh, kw], lora_B.weight [out, r, 1, 1] (and lora_B.bias);
the forward adds lora_B(lora_A(x)) * scaling (1761); the merge adds get_delta_weight (1687-1727): for a
1x1 kernel (B[:, :, 0, 0] @ A[:, :, 0, 0])[..., None, None] * scaling, else conv2d(A^T, B)^T * scaling,
i.e. sum_r B[o, r] A[r, i, h, w] * scaling, and lora_B.bias * scaling to the base bias (1656-1662).
The model is conv "0" (3 -> 4, kernel 3x2, stride (2, 1), padding (1, 0)) then conv "1" (4 -> 5, 1x1),
both with bias, cross-correlation as torch's conv2d.

DoRA on a Conv2d (dora.py _DoraConvNdLayer 205-265, variants.py _DoraConvNdVariant 350-437):
lora_magnitude_vector [1, out, 1, 1] (the norm over dims 1.. with keepdim, transposed, 207-214);
c = m / ||W + s B A|| per output channel; the forward adds (c - 1) (result - bias) + c s lora_B(lora_A(x))
(249-263); merge_safe sets W <- c.view(-1, 1, 1, 1) (W + s B A) (364-378).

DoRA on an embedding (dora.py DoraEmbeddingLayer 173-198, variants.py DoraEmbeddingVariant 251-348):
lora_magnitude_vector [dim]; lora_weight = (A^T @ B^T)^T = B A [dim, num], n = ||W^T + s B A|| per row
(DoraLinearLayer.get_weight_norm with fan_in_fan_out=True, 86-91), c = m / n; the forward is
c * result + c * (F.embedding(ids, A^T) @ B^T) * s (variants.py 333-346, dora.py 194-196); merge_safe
sets W <- c.view(1, -1) (W + s (B A)^T) (263-281).

Regenerate with:
  python3 peft_lora_folders.py ../../../../resources/dev/peft4j/merge/peft-lora
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 7, "peft-core", "src", "test", "java", "dev", "peft4j", "core", "io"))
from safetensors_np import save_safetensors  # noqa: E402

OUT, IN, R, ALPHA = 8, 6, 2, 4
SCALING = ALPHA / R


def f32(x):
    return np.asarray(x, dtype=np.float32)



def write_folder(out, name, cfg, tensors):
    """An adapter folder as PEFT's save_pretrained writes it: the config and the tensors."""
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    save_safetensors(os.path.join(folder, "adapter_model.safetensors"), tensors, {"format": "pt"})


def config(init, lora_bias=False):
    # the keys PEFT's LoraConfig writes that matter here, with PEFT's defaults
    return {
        "peft_type": "LORA",
        "task_type": None,
        "base_model_name_or_path": None,
        "inference_mode": True,
        "r": R,
        "lora_alpha": ALPHA,
        "lora_dropout": 0.0,
        "target_modules": ["0"],
        "exclude_modules": None,
        "init_lora_weights": init,
        "use_rslora": False,
        "fan_in_fan_out": False,
        "bias": "none",
        "use_dora": False,
        "lora_bias": lora_bias,
        "rank_pattern": {},
        "alpha_pattern": {},
        "modules_to_save": None,
        "layers_to_transform": None,
        "layers_pattern": None,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "loftq_config": {},
        "eva_config": None,
        "corda_config": None,
        "lora_ga_config": None,
        "trainable_token_indices": None,
        "layer_replication": None,
        "revision": None,
    }


def pissa_residual(w):
    v, s, uh = np.linalg.svd(w.astype(np.float32), full_matrices=False)
    sr = s[:R] / SCALING
    a = np.diag(np.sqrt(sr)) @ uh[:R]
    b = v[:, :R] @ np.diag(np.sqrt(sr))
    return f32(w - SCALING * (b @ a))


def olora_residual(w):
    q, r = np.linalg.qr(w.astype(np.float32))
    b, a = q[:, :R], r[:R]
    return f32(w - SCALING * (b @ a))


def main(out):
    rng = np.random.default_rng(20261207)
    weight = f32(rng.standard_normal((OUT, IN)) / np.sqrt(IN))
    x = f32(rng.standard_normal((3, IN)))
    os.makedirs(os.path.join(out, "base"), exist_ok=True)
    save_safetensors(os.path.join(out, "base", "model.safetensors"), {"0.weight": weight}, {"format": "pt"})
    expected = {"weight": weight.tolist(), "x": x.tolist()}
    for init, residual in [("pissa", pissa_residual), ("olora", olora_residual)]:
        a = f32(rng.standard_normal((R, IN)) * 0.3)
        b = f32(rng.standard_normal((OUT, R)) * 0.3)
        write_folder(out, init, config(init), {"base_model.model.0.lora_A.weight": a, "base_model.model.0.lora_B.weight": b})
        w_res = residual(weight)
        merged = f32(w_res + SCALING * (b.astype(np.float64) @ a.astype(np.float64)))
        expected[init] = {
            "residual": w_res.tolist(),
            "merged": merged.tolist(),
            "output": f32(x.astype(np.float64) @ merged.astype(np.float64).T).tolist(),
        }
    bias = f32(rng.standard_normal(OUT) * 0.1)
    a = f32(rng.standard_normal((R, IN)) * 0.3)
    b = f32(rng.standard_normal((OUT, R)) * 0.3)
    lora_bias = f32(rng.standard_normal(OUT) * 0.2)
    write_folder(out, "lora_bias", config(True, lora_bias=True), {
        "base_model.model.0.lora_A.weight": a,
        "base_model.model.0.lora_B.weight": b,
        "base_model.model.0.lora_B.bias": lora_bias,
    })
    save_safetensors(
        os.path.join(out, "base", "model-with-bias.safetensors"),
        {"0.weight": weight, "0.bias": bias},
        {"format": "pt"},
    )
    merged = f32(weight + SCALING * (b.astype(np.float64) @ a.astype(np.float64)))
    merged_bias = f32(bias + SCALING * lora_bias)
    expected["bias"] = bias.tolist()
    expected["lora_bias"] = {
        "merged": merged.tolist(),
        "merged_bias": merged_bias.tolist(),
        "output": f32(x.astype(np.float64) @ merged.astype(np.float64).T + merged_bias).tolist(),
    }
    a = f32(rng.standard_normal((R, IN)) * 0.3)
    b = f32(rng.standard_normal((OUT, R)) * 0.3)
    x64, w64, a64, b64 = (t.astype(np.float64) for t in (x, weight, a, b))
    full = w64 + SCALING * (b64 @ a64)
    n = np.linalg.norm(full, axis=1)
    magnitude = f32(n * (1 + 0.2 * rng.standard_normal(OUT)))
    c = magnitude.astype(np.float64) / n
    cfg = config(True)
    cfg["use_dora"] = True
    write_folder(out, "dora", cfg, {
        "base_model.model.0.lora_A.weight": a,
        "base_model.model.0.lora_B.weight": b,
        "base_model.model.0.lora_magnitude_vector": magnitude,
    })
    result = x64 @ w64.T + bias
    lora = x64 @ a64.T @ b64.T
    output = result + (c - 1) * (result - bias) + c * SCALING * lora
    g = rng.standard_normal((x.shape[0], OUT))
    expected["dora"] = {
        "output": f32(output).tolist(),
        "merged": f32(c[:, None] * full).tolist(),
        "merged_bias": bias.tolist(),
        "initial_magnitude": f32(np.linalg.norm(w64, axis=1)).tolist(),
        "upstream": f32(g).tolist(),
        "grad_magnitude": f32((g * (x64 @ w64.T + SCALING * lora) / n).sum(axis=0)).tolist(),
        "grad_lora_B": f32(SCALING * ((g * c).T @ (x64 @ a64.T))).tolist(),
        "grad_lora_A": f32(SCALING * (b64.T @ (g * c).T @ x64)).tolist(),
    }
    num, dim = 7, 4
    table = f32(rng.standard_normal((num, dim)))
    ea = f32(rng.standard_normal((R, num)) * 0.5)
    eb = f32(rng.standard_normal((dim, R)) * 0.5)
    ids = np.array([[0, 3, 6], [2, 2, 5]])
    write_folder(out, "embedding", config(True), {"base_model.model.0.lora_embedding_A": ea, "base_model.model.0.lora_embedding_B": eb})
    save_safetensors(os.path.join(out, "base", "model-embedding.safetensors"), {"0.weight": table}, {"format": "pt"})
    t64, ea64, eb64 = (v.astype(np.float64) for v in (table, ea, eb))
    expected["embedding"] = {
        "table": table.tolist(),
        "ids": ids.tolist(),
        "output": f32(t64[ids] + SCALING * (ea64.T[ids] @ eb64.T)).tolist(),
        "merged": f32(t64 + SCALING * (eb64 @ ea64).T).tolist(),
    }
    conv_fixtures(rng, out, expected)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


def conv2d(x, w, stride=(1, 1), padding=(0, 0)):
    """torch.nn.functional.conv2d without bias, dilation 1, groups 1: cross-correlation."""
    n, c, h, wd = x.shape
    o, c2, kh, kw = w.shape
    assert c == c2
    xp = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]))
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd] = x
    oh = (h + 2 * padding[0] - kh) // stride[0] + 1
    ow = (wd + 2 * padding[1] - kw) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            y[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return y


CONV_LAYERS = [  # name, in, out, kernel, stride, padding
    ("0", 3, 4, (3, 2), (2, 1), (1, 0)),
    ("1", 4, 5, (1, 1), (1, 1), (0, 0)),
]


def conv_fixtures(rng, out, expected):
    x = f32(rng.standard_normal((2, 3, 7, 5)))
    base, folders = {}, {"conv": {}, "conv_dora": {}}
    for name, cin, cout, k, _, _ in CONV_LAYERS:
        base[name + ".weight"] = f32(rng.standard_normal((cout, cin) + k) / np.sqrt(cin * k[0] * k[1]))
        base[name + ".bias"] = f32(rng.standard_normal(cout) * 0.1)
    save_safetensors(os.path.join(out, "base", "model-conv.safetensors"), base, {"format": "pt"})
    for name, cin, cout, k, _, _ in CONV_LAYERS:
        prefix = "base_model.model." + name + "."
        w = base[name + ".weight"].astype(np.float64)
        for folder in folders:
            a = f32(rng.standard_normal((R, cin) + k) * 0.3)
            b = f32(rng.standard_normal((cout, R, 1, 1)) * 0.3)
            t = folders[folder]
            t[prefix + "lora_A.weight"] = a
            t[prefix + "lora_B.weight"] = b
            if folder == "conv":
                t[prefix + "lora_B.bias"] = f32(rng.standard_normal(cout) * 0.2)
            else:
                full = w + SCALING * delta(a, b)
                n = np.sqrt((full**2).sum(axis=(1, 2, 3)))
                t[prefix + "lora_magnitude_vector"] = f32((n * (1 + 0.2 * rng.standard_normal(cout)))[None, :, None, None])
    expected["conv_x"] = x.tolist()
    for folder, tensors in folders.items():
        cfg = config(True, lora_bias=folder == "conv")
        cfg["target_modules"] = ["0", "1"]
        cfg["use_dora"] = folder == "conv_dora"
        write_folder(out, folder, cfg, tensors)
        h = x.astype(np.float64)
        want = {}
        for name, _, _, _, stride, padding in CONV_LAYERS:
            prefix = "base_model.model." + name + "."
            w = base[name + ".weight"].astype(np.float64)
            bias = base[name + ".bias"].astype(np.float64)
            a, b = (tensors[prefix + k].astype(np.float64) for k in ("lora_A.weight", "lora_B.weight"))
            result = conv2d(h, w, stride, padding) + bias[None, :, None, None]
            lora = conv2d(conv2d(h, a, stride, padding), b)
            full = w + SCALING * delta(a, b)
            if folder == "conv":
                lora_bias = tensors[prefix + "lora_B.bias"].astype(np.float64)
                h = result + SCALING * (lora + lora_bias[None, :, None, None])
                want[name + ".weight"] = f32(full).tolist()
                want[name + ".bias"] = f32(bias + SCALING * lora_bias).tolist()
            else:
                n = np.sqrt((full**2).sum(axis=(1, 2, 3)))
                c = tensors[prefix + "lora_magnitude_vector"].astype(np.float64).reshape(-1) / n
                c4 = c[None, :, None, None]
                h = result + (c4 - 1) * (result - bias[None, :, None, None]) + c4 * SCALING * lora
                want[name + ".weight"] = f32(c[:, None, None, None] * full).tolist()
                want[name + ".bias"] = f32(bias).tolist()
        want["output"] = f32(h).tolist()
        expected[folder] = want
    embedding_dora(rng, out, expected)


def delta(a, b):
    """get_delta_weight without the scaling: sum_r B[o, r] A[r, i, h, w]."""
    r = a.shape[0]
    return (b.reshape(-1, r) @ a.reshape(r, -1)).reshape((b.shape[0],) + a.shape[1:])


def embedding_dora(rng, out, expected):
    table = np.asarray(expected["embedding"]["table"], dtype=np.float64)
    ids = np.asarray(expected["embedding"]["ids"])
    num, dim = table.shape
    ea = f32(rng.standard_normal((R, num)) * 0.5)
    eb = f32(rng.standard_normal((dim, R)) * 0.5)
    ea64, eb64 = ea.astype(np.float64), eb.astype(np.float64)
    full = table + SCALING * (eb64 @ ea64).T
    n = np.sqrt((full**2).sum(axis=0))
    magnitude = f32(n * (1 + 0.2 * rng.standard_normal(dim)))
    c = magnitude.astype(np.float64) / n
    cfg = config(True)
    cfg["use_dora"] = True
    write_folder(out, "embedding_dora", cfg, {
        "base_model.model.0.lora_embedding_A": ea,
        "base_model.model.0.lora_embedding_B": eb,
        "base_model.model.0.lora_magnitude_vector": magnitude,
    })
    expected["embedding_dora"] = {
        "output": f32(c * table[ids] + c * SCALING * (ea64.T[ids] @ eb64.T)).tolist(),
        "merged": f32(c[None, :] * full).tolist(),
        "initial_magnitude": f32(np.sqrt((table**2).sum(axis=0))).tolist(),
    }


if __name__ == "__main__":
    main(sys.argv[1])
