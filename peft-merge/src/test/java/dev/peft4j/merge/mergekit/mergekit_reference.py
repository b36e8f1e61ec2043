#!/usr/bin/env python3
"""Tiny models, mergekit YAML configs, and what mergekit computes for them, transcribed with NumPy
from arcee-ai/mergekit a6e4028 independently of the Java code, for MergekitTest.

Models: a LLaMA-shaped checkpoint with 3 layers (config.json num_hidden_layers 3) and float32
tensors; "base", and fine-tuned "m1", "m2", "m3" = base + random changes. Each config's expected
output is every merged tensor.

mergekit sources transcribed:
  config.py 26-52 evaluate_setting: a number list is interpolated at t (i0 = int(t (n-1)),
      frac), a list of {filter, value} takes the first whose filter is None, "*", or a substring
      of the tensor name.
  plan.py 116-156: models -> one slice with the base appended when not listed; 267-298: layer i of
      n gets t = i / (n - 1); 300-331: tensors outside the layers (pre/post weights) get t = 0.
  config.py 204-250 ConfigReader.parameter: the model's parameters, then the global ones, then
      the method's default.
  merge_methods/registry.py: the GTA variants' sparsification, consensus and defaults.
  merge_methods/generalized_task_arithmetic.py 116-190 (GTATask.execute), 193-236 (get_task_vectors,
      get_mask "sum"): deltas = x - base, sparsified, times weight; consensus mask on the weighted
      deltas; divisor sum(weight * mask) (0 -> 1) or sum(weight) (|.| < 1e-8 -> 1); normalize,
      lambda.
  sparsify.py 56-72 magnitude (argsort descending, first int(density n)), 75-110
      magnitude_outliers (argsort ascending, keep [n_bot : n - n_top]; mergekit's slice with
      n_top = 0 keeps nothing, peft4j keeps [n_bot:], not exercised here: n_top > 0).
  merge_methods/linear.py 27-52, slerp.py 28-51 and 90-145, nuslerp.py 29-80 and 110-150,
      model_stock.py 28-90, karcher.py 97-177, passthrough.py 20-33.

Regenerate with:
  python3 mergekit_reference.py ../../../../../resources/dev/peft4j/merge/mergekit
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 8, "peft-core", "src", "test", "java", "dev", "peft4j", "core", "io"))
from safetensors_np import save_safetensors  # noqa: E402

LAYERS = 3
D, F, V = 4, 6, 10


def tensor_names():
    names = {"model.embed_tokens.weight": (V, D)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        names[p + "self_attn.q_proj.weight"] = (D, D)
        names[p + "mlp.up_proj.weight"] = (F, D)
        names[p + "input_layernorm.weight"] = (D,)
    names["model.norm.weight"] = (D,)
    names["lm_head.weight"] = (V, D)
    return names



def write_model(out, name, tensors):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    save_safetensors(os.path.join(folder, "model.safetensors"), tensors)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "num_hidden_layers": LAYERS, "hidden_size": D, "torch_dtype": "float32"}, f)


# ---- config.py evaluate_setting
def evaluate(setting, name, t):
    if setting is None:
        return None
    if isinstance(setting, (int, float, bool)):
        return setting
    if isinstance(setting, dict):
        setting = [setting]
    if all(isinstance(e, (int, float)) for e in setting):
        scaled = t * (len(setting) - 1)
        i0 = int(scaled)
        i1 = min(len(setting) - 1, i0 + 1)
        frac = scaled - i0
        return (1 - frac) * setting[i0] + frac * setting[i1]
    for cond in setting:
        f = cond.get("filter")
        if f is None or f == "*" or f in name:
            return evaluate(cond["value"], name, t)
    return None


def layer_t(name):
    parts = name.split(".")
    if "layers" in parts:
        i = int(parts[parts.index("layers") + 1])
        return i / (LAYERS - 1) if LAYERS > 1 else 1
    return 0


def param(cfg, model_params, key, name, t, default):
    for source in (model_params or {}, cfg.get("parameters") or {}):
        v = evaluate(source.get(key), name, t)
        if v is not None:
            return v
    return default


# ---- sparsify.py
def rescaled(t, mask, rescale):
    masked = t * mask
    if not rescale:
        return masked
    before, after = np.abs(t).sum(), np.abs(masked).sum()
    if before < 1e-7 or after < 1e-7:
        return masked
    return masked * (before / after)


def magnitude(t, density, rescale):
    if density >= 1:
        return t
    k = int(density * t.size)
    mask = np.zeros(t.size)
    mask[np.argsort(-np.abs(t).reshape(-1), kind="stable")[:k]] = 1
    return rescaled(t, mask.reshape(t.shape), rescale)


def magnitude_outliers(t, density, gamma, rescale):
    if density >= 1:
        return t
    n = t.size
    target, n_top = int(density * n), int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    assert n_top > 0
    idx = np.argsort(np.abs(t).reshape(-1), kind="stable")
    mask = np.zeros(n)
    mask[idx[n_bot:-n_top]] = 1
    return rescaled(t, mask.reshape(t.shape), rescale)


GTA = {  # sparsification, consensus, default normalize, default rescale (registry.py)
    "task_arithmetic": (None, False, False, False),
    "ties": ("magnitude", True, True, False),
    "dare_ties": ("random", True, False, True),
    "dare_linear": ("random", False, False, True),
    "breadcrumbs": ("magnitude_outliers", False, False, False),
    "breadcrumbs_ties": ("magnitude_outliers", True, False, False),
    "della": ("della", True, True, True),
    "della_linear": ("della", False, False, True),
}


def gta(method, cfg, inputs, name, t):
    sparsification, consensus, dnorm, dresc = GTA[method]
    base = [x for m, x, p, is_base in inputs if is_base][0]
    normalize = param(cfg, None, "normalize", name, t, dnorm)
    rescale = param(cfg, None, "rescale", name, t, dresc)
    lam = param(cfg, None, "lambda", name, t, 1.0)
    deltas, weights = [], []
    for m, x, p, is_base in inputs:
        if is_base:
            continue
        delta = x - base
        density = param(cfg, p, "density", name, t, 1.0)
        if sparsification == "magnitude":
            delta = magnitude(delta, density, rescale)
        elif sparsification == "magnitude_outliers":
            delta = magnitude_outliers(delta, density, param(cfg, p, "gamma", name, t, 0.01), rescale)
        else:
            assert sparsification is None or density >= 1  # random masks: only the deterministic case here
        deltas.append(delta)
        weights.append(param(cfg, p, "weight", name, t, None))
    deltas = np.stack(deltas)
    w = np.asarray(weights).reshape((-1,) + (1,) * (deltas.ndim - 1))
    weighted = deltas * w
    if consensus:
        sign = np.sign(weighted)
        majority = (weighted.sum(axis=0) >= 0) * 2 - 1
        mask = sign == majority
        mixed = (weighted * mask).sum(axis=0)
        divisor = (w * mask).sum(axis=0)
        divisor[divisor == 0] = 1
    else:
        mixed = weighted.sum(axis=0)
        divisor = w.sum(axis=0)
        divisor[np.abs(divisor) < 1e-8] = 1
    if normalize:
        mixed = mixed / divisor
    if lam != 1:
        mixed = mixed * lam
    return base + mixed


def linear(cfg, inputs, name, t):
    normalize = param(cfg, None, "normalize", name, t, True)
    xs = np.stack([x for _, x, _, _ in inputs])
    w = np.asarray([param(cfg, p, "weight", name, t, None) for _, _, p, _ in inputs]).reshape((-1,) + (1,) * (xs.ndim - 1))
    res = (w * xs).sum(axis=0)
    return res / w.sum(axis=0) if normalize else res


def slerp_fn(t, v0, v1, eps=1e-8):
    v0c, v1c = v0.copy(), v1.copy()
    n0, n1 = np.linalg.norm(v0), np.linalg.norm(v1)
    if n0 > eps:
        v0 = v0 / n0
    if n1 > eps:
        v1 = v1 / n1
    dot = np.sum(v0 * v1)
    if np.abs(dot) > 0.9995:
        return (1 - t) * v0c + t * v1c
    theta0 = np.arccos(dot)
    s0 = np.sin(theta0 - theta0 * t) / np.sin(theta0)
    s1 = np.sin(theta0 * t) / np.sin(theta0)
    return s0 * v0c + s1 * v1c


def slerp(cfg, inputs, name, t):
    a = [x for _, x, _, b in inputs if b][0]
    b = [x for _, x, _, isb in inputs if not isb][0]
    return slerp_fn(param(cfg, None, "t", name, t, None), a, b)


def nuslerp_fn(t, v0, v1, dim, flatten, eps=1e-8):
    shape = v0.shape
    if flatten:
        v0, v1 = v0.reshape(1, -1), v1.reshape(1, -1)
    elif dim != -1:
        v0, v1 = np.swapaxes(v0, dim, -1), np.swapaxes(v1, dim, -1)
    u0 = v0 / np.maximum(np.linalg.norm(v0, axis=-1, keepdims=True), 1e-7)
    u1 = v1 / np.maximum(np.linalg.norm(v1, axis=-1, keepdims=True), 1e-7)
    cos = np.sum(u0 * u1, axis=-1, keepdims=True)
    theta = np.arccos(np.clip(cos, -1, 1))
    sin = np.sin(theta)
    res = (np.sin((1 - t) * theta) * v0 + np.sin(t * theta) * v1) / sin
    colinear = (np.abs(sin) < eps)[..., 0]
    res[colinear] = (1 - t) * v0[colinear] + t * v1[colinear]
    if dim != -1 and not flatten:
        res = np.swapaxes(res, dim, -1)
    return res.reshape(shape)


def nuslerp(cfg, inputs, name, t):
    row_wise = param(cfg, None, "nuslerp_row_wise", name, t, False)
    flatten = param(cfg, None, "nuslerp_flatten", name, t, True)
    base = [x for _, x, _, b in inputs if b]
    others = [(x, p) for _, x, p, b in inputs if not b]
    w0, w1 = (param(cfg, p, "weight", name, t, None) for _, p in others)
    tt = 0.5 if abs(w0 + w1) < 1e-6 else w1 / (w0 + w1)
    dim = 0 if row_wise else -1
    if base:
        return base[0] + nuslerp_fn(tt, others[0][0] - base[0], others[1][0] - base[0], dim, flatten)
    return nuslerp_fn(tt, others[0][0], others[1][0], dim, flatten)


def model_stock(cfg, inputs, name, t):
    filter_wise = param(cfg, None, "filter_wise", name, t, False)
    w0 = [x for _, x, _, b in inputs if b][0]
    ws = [x for _, x, _, b in inputs if not b]
    shape = w0.shape
    if filter_wise:
        if w0.ndim == 1:
            w0, ws = w0[None, :], [w[None, :] for w in ws]
    else:
        w0, ws = w0.reshape(-1), [w.reshape(-1) for w in ws]
    offsets = [w - w0 for w in ws]
    cos = []
    for i in range(len(offsets)):
        for j in range(i + 1, len(offsets)):
            a, b = offsets[i], offsets[j]
            norm_product = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
            cos.append(np.clip((a * b).sum(axis=-1) / np.maximum(norm_product, 1e-6), -1, 1))
    c = np.mean(np.stack(cos), axis=0)[..., None]
    n = len(ws)
    tt = (n * c) / (1 + (n - 1) * c)
    avg = sum(ws) / n
    return (tt * avg + (1 - tt) * w0).reshape(shape)


def karcher(cfg, inputs, name, t):
    max_iter = param(cfg, None, "max_iter", name, t, 10)
    tol = param(cfg, None, "tol", name, t, 1e-5)
    ts = [x for _, x, _, _ in inputs]
    alphas = [1.0 / len(ts)] * len(ts)
    norms, units = [], []
    for x in ts:
        n = np.linalg.norm(x)
        norms.append(n)
        units.append(x / n if n else np.zeros_like(x))
    valid = [i for i, n in enumerate(norms) if n > tol]
    va = [alphas[i] for i in valid]
    va = [a / sum(va) for a in va]
    vu = [units[i] for i in valid]
    u = sum(a * ui for a, ui in zip(va, vu))
    nu = np.linalg.norm(u)
    u = vu[0].copy() if nu < tol else u / nu
    for _ in range(int(max_iter)):
        T = np.zeros_like(u)
        for a, ui in zip(va, vu):
            dot = np.clip(np.dot(u.reshape(-1), ui.reshape(-1)), -1, 1)
            theta = np.arccos(dot)
            if theta < tol:
                continue
            T += a * (theta / np.sin(theta)) * (ui - dot * u)
        nT = np.linalg.norm(T)
        if nT < tol:
            break
        u = np.cos(nT) * u + np.sin(nT) * (T / nT)
        un = np.linalg.norm(u)
        if un > tol:
            u = u / un
    return sum(a * n for a, n in zip(alphas, norms)) * u


def passthrough(cfg, inputs, name, t):
    (_, x, p, _), = inputs
    scale = param(cfg, p, "scale", name, t, None)
    return x if scale is None else x * scale


CONFIGS = {
    "linear": {"merge_method": "linear", "models": [
        {"model": "m1", "parameters": {"weight": 0.6}},
        {"model": "m2", "parameters": {"weight": [0.2, 0.8]}}]},
    "linear_filter": {"merge_method": "linear", "parameters": {"normalize": False}, "models": [
        {"model": "m1", "parameters": {"weight": [{"filter": "self_attn", "value": 0.9}, {"value": 0.3}]}},
        {"model": "m2", "parameters": {"weight": 0.4}}]},
    "task_arithmetic": {"merge_method": "task_arithmetic", "base_model": "base", "parameters": {"lambda": 0.8}, "models": [
        {"model": "m1", "parameters": {"weight": 1.0}}, {"model": "m2", "parameters": {"weight": 0.5}}], "dtype": "float32"},
    "ties": {"merge_method": "ties", "base_model": "base", "models": [
        {"model": "m1", "parameters": {"weight": 1.0, "density": 0.5}},
        {"model": "m2", "parameters": {"weight": 0.7, "density": 0.5}}]},
    "ties_gradient": {"merge_method": "ties", "base_model": "base", "parameters": {"normalize": False, "density": [0.3, 0.9]}, "models": [
        {"model": "m1", "parameters": {"weight": 1.0}}, {"model": "m2", "parameters": {"weight": -0.4}}, {"model": "base"}]},
    "breadcrumbs": {"merge_method": "breadcrumbs", "base_model": "base", "parameters": {"density": 0.6, "gamma": 0.25}, "models": [
        {"model": "m1", "parameters": {"weight": 1.0}}, {"model": "m2", "parameters": {"weight": 0.5}}]},
    "breadcrumbs_ties": {"merge_method": "breadcrumbs_ties", "base_model": "base", "parameters": {"density": 0.6, "gamma": 0.25, "normalize": True}, "models": [
        {"model": "m1", "parameters": {"weight": 1.0}}, {"model": "m2", "parameters": {"weight": 0.5}}]},
    "dare_ties_dense": {"merge_method": "dare_ties", "base_model": "base", "models": [
        {"model": "m1", "parameters": {"weight": 1.0, "density": 1.0}}, {"model": "m2", "parameters": {"weight": 0.5, "density": 1.0}}]},
    "della_dense": {"merge_method": "della", "base_model": "base", "parameters": {"density": 1.0, "epsilon": 0.1}, "models": [
        {"model": "m1", "parameters": {"weight": 0.8}}, {"model": "m2", "parameters": {"weight": 0.5}}]},
    "slerp": {"merge_method": "slerp", "base_model": "m1", "parameters": {"t": [
        {"filter": "self_attn", "value": [0, 0.5, 1]}, {"filter": "mlp", "value": [1, 0.5, 0]}, {"value": 0.5}]},
        "models": [{"model": "m1"}, {"model": "m2"}]},
    "nuslerp": {"merge_method": "nuslerp", "models": [
        {"model": "m1", "parameters": {"weight": 0.3}}, {"model": "m2", "parameters": {"weight": 0.7}}]},
    "nuslerp_rows": {"merge_method": "nuslerp", "base_model": "base", "parameters": {"nuslerp_row_wise": True, "nuslerp_flatten": False}, "models": [
        {"model": "m1", "parameters": {"weight": 0.5}}, {"model": "m2", "parameters": {"weight": 0.5}}]},
    "model_stock": {"merge_method": "model_stock", "base_model": "base", "models": [{"model": "m1"}, {"model": "m2"}, {"model": "m3"}]},
    "model_stock_filter": {"merge_method": "model_stock", "base_model": "base", "parameters": {"filter_wise": True}, "models": [{"model": "m1"}, {"model": "m2"}, {"model": "m3"}]},
    "karcher": {"merge_method": "karcher", "models": [{"model": "m1"}, {"model": "m2"}, {"model": "m3"}]},
    "linear_lora": {"merge_method": "linear", "base_model": "base", "models": [
        {"model": "m1", "parameters": {"weight": 0.5}}, {"model": "base+lora1", "parameters": {"weight": 0.5}},
        {"model": "base", "parameters": {"weight": 0.0}}]},
    "linear_bin": {"merge_method": "linear", "models": [
        {"model": "m1", "parameters": {"weight": 0.6}}, {"model": "m2bin", "parameters": {"weight": [0.2, 0.8]}}]},
    "passthrough": {"merge_method": "passthrough", "models": [{"model": "m2", "parameters": {"scale": 0.5}}], "out_dtype": "float16"},
}

SLICE_CONFIGS = {
    "passthrough_stack": {"merge_method": "passthrough", "slices": [
        {"sources": [{"model": "m1", "layer_range": [0, 2]}]},
        {"sources": [{"model": "m2", "layer_range": [1, 3]}]}]},
    "slerp_slices": {"merge_method": "slerp", "base_model": "m1", "parameters": {"t": [0, 1]}, "slices": [
        {"sources": [{"model": "m1", "layer_range": [0, 3]}, {"model": "m2", "layer_range": [0, 3]}]}]},
    "ties_slices": {"merge_method": "ties", "base_model": "base", "slices": [
        {"sources": [{"model": "base", "layer_range": [0, 3]},
                     {"model": "m1", "layer_range": [0, 3], "parameters": {"weight": 1.0, "density": 0.5}},
                     {"model": "m2", "layer_range": [0, 3], "parameters": {"weight": 0.5, "density": [0.4, 0.9]}}]}]},
}

# llama's architecture file (mergekit/_data/architectures/llama.json): pre and post weights
PRE_WEIGHTS = ["model.embed_tokens.weight"]
POST_WEIGHTS = ["model.norm.weight", "lm_head.weight"]
LAYER_WEIGHTS = ["self_attn.q_proj.weight", "mlp.up_proj.weight", "input_layernorm.weight"]


def run_slices(cfg, models):
    """plan.py 300-331 plan_module: pre weights from the first slice's sources (t = 0), each
    slice's layers (t = idx / (n - 1)), post weights from the last slice's sources."""
    method = cfg["merge_method"]
    slices = cfg["slices"]
    fn = FUNCS.get(method)
    out = {}

    def merge(name, src_names, sl, t):
        base_name = sl.get("base_model", cfg.get("base_model"))
        # parameters: the source's, then the slice's, then the global ones (config.py 204-250)
        inputs = [(src["model"], models[src["model"]][key].astype(np.float64), src.get("parameters"), src["model"] == base_name)
                  for src, key in src_names]
        local = dict(cfg)
        local["parameters"] = {**(cfg.get("parameters") or {}), **(sl.get("parameters") or {})}
        merged = fn(local, inputs, name, t) if fn else gta(method, local, inputs, name, t)
        return np.asarray(merged, dtype=np.float32)

    for name in PRE_WEIGHTS:
        out[name] = merge(name, [(s, name) for s in slices[0]["sources"]], slices[0], 0)
    layer = 0
    for sl in slices:
        n = sl["sources"][0]["layer_range"][1] - sl["sources"][0]["layer_range"][0]
        for idx in range(n):
            t = idx / (n - 1) if n > 1 else 1
            for w in LAYER_WEIGHTS:
                name = f"model.layers.{layer}.{w}"
                srcs = [(s, f"model.layers.{s['layer_range'][0] + idx}.{w}") for s in sl["sources"]]
                out[name] = merge(name, srcs, sl, t)
            layer += 1
    for name in POST_WEIGHTS:
        out[name] = merge(name, [(s, name) for s in slices[-1]["sources"]], slices[-1], 0)
    return out, layer


FUNCS = {"linear": linear, "slerp": slerp, "nuslerp": nuslerp, "model_stock": model_stock, "karcher": karcher, "passthrough": passthrough}


def main(out):
    rng = np.random.default_rng(20261208)
    names = tensor_names()
    base = {k: np.float32(rng.standard_normal(s) * 0.5) for k, s in names.items()}
    models = {"base": base}
    common = {k: rng.standard_normal(s) * 0.1 for k, s in names.items()}
    for m in ("m1", "m2", "m3"):
        models[m] = {k: np.float32(base[k] + common[k] + rng.standard_normal(s) * 0.1) for k, s in names.items()}
    for m, tensors in models.items():
        write_model(out, m, tensors)
    # m2 again as a PyTorch checkpoint (pytorch_model.bin, written as torch.save writes it by
    # peft-core's torch_bin_fixture.py), for a merge that reads .bin inputs
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 8, "peft-core", "src", "test", "java", "dev", "peft4j", "core", "io"))
    import torch_bin_fixture as tb
    import collections
    state, storages = collections.OrderedDict(), []
    for i, (k, v) in enumerate(models["m2"].items()):
        st = tb.torch.FloatStorage(str(i), np.float32(v).tobytes())
        storages.append(st)
        state[k] = tb.Tensor(st, 0, v.shape)
    os.makedirs(os.path.join(out, "m2bin"), exist_ok=True)
    tb.write(os.path.join(out, "m2bin", "pytorch_model.bin"), state, storages)
    with open(os.path.join(out, "m2bin", "config.json"), "w") as f:
        json.dump({"model_type": "llama", "num_hidden_layers": LAYERS, "hidden_size": D, "torch_dtype": "float32"}, f)
    # a PEFT LoRA folder on base (r 2, lora_alpha 4, q_proj of every layer): "base+lora1" is the
    # model base with the LoRA merged (mergekit/io/lazy_tensor_loader + common.py ModelReference:
    # merge_and_unload), W + (alpha / r) B A
    lora = {}
    models["base+lora1"] = dict(base)
    for i in range(LAYERS):
        k = f"model.layers.{i}.self_attn.q_proj"
        a = np.float32(rng.standard_normal((2, D)) * 0.3)
        b = np.float32(rng.standard_normal((D, 2)) * 0.3)
        lora[f"base_model.model.{k}.lora_A.weight"] = a
        lora[f"base_model.model.{k}.lora_B.weight"] = b
        models["base+lora1"][k + ".weight"] = np.float32(base[k + ".weight"] + 2.0 * (b.astype(np.float64) @ a.astype(np.float64)))
    os.makedirs(os.path.join(out, "lora1"), exist_ok=True)
    save_safetensors(os.path.join(out, "lora1", "adapter_model.safetensors"), lora)
    with open(os.path.join(out, "lora1", "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"], "lora_dropout": 0.0,
                   "bias": "none", "fan_in_fan_out": False, "init_lora_weights": True, "use_rslora": False}, f, indent=1)
    expected = {}
    for cname, cfg in CONFIGS.items():
        with open(os.path.join(out, cname + ".yml"), "w") as f:
            json.dump(cfg, f, indent=1)  # JSON is YAML
        method = cfg["merge_method"]
        base_name = cfg.get("base_model")
        entries = [(e["model"], e.get("parameters")) for e in cfg["models"]]
        models.setdefault("m2bin", models["m2"])
        if base_name and base_name not in [m for m, _ in entries]:
            entries.append((base_name, None))
        result = {}
        for name in names:
            t = layer_t(name)
            inputs = [(m, models[m][name].astype(np.float64), p, m == base_name) for m, p in entries]
            fn = FUNCS.get(method)
            merged = fn(cfg, inputs, name, t) if fn else gta(method, cfg, inputs, name, t)
            result[name] = np.asarray(merged, dtype=np.float32).tolist()
        expected[cname] = result
    for cname, cfg in SLICE_CONFIGS.items():
        with open(os.path.join(out, cname + ".yml"), "w") as f:
            json.dump(cfg, f, indent=1)
        result, layers = run_slices(cfg, models)
        expected[cname] = {k: v.tolist() for k, v in result.items()}
        expected[cname + ".layers"] = layers
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
