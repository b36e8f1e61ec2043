#!/usr/bin/env python3
"""What PEFT's add_weighted_adapter computes, transcribed with NumPy from huggingface/peft 5d602fdb,
independently of the Java code, for WeightedAdaptersTest.

Model: Linear "0" (6 -> 8) and Linear "1" (8 -> 5), no bias. Three LoRA adapters on both layers:
  a1: r 2, lora_alpha 4 (scaling 2)
  a2: r 2, lora_alpha 3, use_rslora (scaling 3 / sqrt(2))
  a3: r 2, lora_alpha 2, rank_pattern {"1": 3}, alpha_pattern {"1": 6} (scaling 1 on "0", 2 on "1")
Their factors are random. For each combination the expected change of each layer is B' A' of the
new adapter, whose scaling is 1 (model.py 744-751: r = lora_alpha = new_rank; we also set
use_rslora false, the fix of PEFT PR #3449).

src/peft/tuners/lora/model.py:
  635: one adapter -> linear.
  775-797 (cat): A' = cat_i(A_i * w_i * s_i, dim 0), B' = cat_i(B_i, dim 1).
  886-932 (linear, ties, dare_linear, dare_ties, magnitude_prune): the merge_utils function applied
      to [A_i] with weights sign(w_i s_i) sqrt(|w_i s_i|) (913) and to [B_i] with sqrt(|w_i s_i|).
  818-884 (svd, *_svd): the function applied to get_delta_weight(adapter) = s_i B_i A_i (844) with
      weights w_i * s_i (839). peft4j weights by w_i only: get_delta_weight already holds s_i, so
      PEFT's code counts the scaling twice (documented in docs/formats.md); SVD_WEIGHTS_HOLD_SCALING
      below switches between the two. Then U, S, Vh = svd(delta) (870), B' = U[:, :q] diag(S[:q]),
      A' = Vh[:q] (871-874), q = svd_rank or the largest rank (peft4j: the layer's largest rank).
src/peft/utils/merge_utils.py:
  37-54 magnitude_based_pruning: keep the int(density * numel) largest |x| (torch.topk).
  75-100 prune: unchanged when density >= 1.
  103-125 calculate_majority_sign_mask: sign == where(sum(T) >= 0 (total) or sum(sign T) >= 0
      (frequency), 1, -1), on the stacked pruned (unweighted) tensors.
  128-141 disjoint_merge: sum(weighted * mask) / clamp(mask.sum, 1).
  144-160 task_arithmetic, 163-182 magnitude_prune, 185-214 ties, 239-270 dare_ties.

Regenerate with:
  python3 weighted_reference.py ../../../../../resources/dev/peft4j/merge/weighted/reference.json
"""
import json
import sys

import numpy as np

SVD_WEIGHTS_HOLD_SCALING = False  # PEFT's model.py 839; peft4j: False
LAYERS = {"0": (8, 6), "1": (5, 8)}  # out, in
ADAPTERS = {
    "a1": {"r": 2, "lora_alpha": 4},
    "a2": {"r": 2, "lora_alpha": 3, "use_rslora": True},
    "a3": {"r": 2, "lora_alpha": 2, "rank_pattern": {"1": 3}, "alpha_pattern": {"1": 6}},
}


def rank_alpha(cfg, layer):
    return cfg.get("rank_pattern", {}).get(layer, cfg["r"]), cfg.get("alpha_pattern", {}).get(layer, cfg["lora_alpha"])


def scaling(cfg, layer):
    r, alpha = rank_alpha(cfg, layer)
    return alpha / np.sqrt(r) if cfg.get("use_rslora") else alpha / r


def magnitude_based_pruning(t, density):
    flat = np.abs(t).reshape(-1)
    k = int(density * t.size)
    mask = np.zeros(t.size)
    mask[np.argsort(-flat, kind="stable")[:k]] = 1
    return t * mask.reshape(t.shape)


def prune(t, density):
    return t if density >= 1 else magnitude_based_pruning(t, density)


def task_arithmetic(ts, w):
    return sum(wi * t for wi, t in zip(w, ts))


def ties(ts, w, density, method):
    t = np.stack([prune(x, density) for x in ts])
    sign = np.sign(t)
    mag = t.sum(axis=0) if method == "total" else sign.sum(axis=0)
    mask = sign == np.where(mag >= 0, 1, -1)
    weighted = t * np.asarray(w).reshape((-1,) + (1,) * (t.ndim - 1))
    return (weighted * mask).sum(axis=0) / np.maximum(mask.sum(axis=0), 1)


def combine(fn, ts, w, density, method):
    if fn == "linear":
        return task_arithmetic(ts, w)
    if fn == "magnitude_prune":
        return task_arithmetic([prune(t, density) for t in ts], w)
    if fn in ("ties", "dare_ties"):  # dare at density 1 prunes nothing: the deterministic case
        assert fn == "ties" or density >= 1
        return ties(ts, w, density, method)
    raise ValueError(fn)


def main(out):
    rng = np.random.default_rng(20261208)
    factors = {}
    for name, cfg in ADAPTERS.items():
        factors[name] = {}
        for layer, (o, i) in LAYERS.items():
            r, _ = rank_alpha(cfg, layer)
            factors[name][layer] = {
                "lora_A.weight": np.float32(rng.standard_normal((r, i)) * 0.4).astype(np.float64),
                "lora_B.weight": np.float32(rng.standard_normal((o, r)) * 0.4).astype(np.float64),
            }
    cases = [
        ("linear", ["a1", "a2"], [0.7, -0.4], {}),
        ("cat", ["a1", "a2", "a3"], [0.7, -0.4, 0.5], {}),
        ("svd", ["a1", "a2", "a3"], [0.7, -0.4, 0.5], {}),
        ("ties", ["a1", "a2"], [0.7, -0.4], {"density": 0.5}),
        ("ties", ["a1", "a2"], [0.7, -0.4], {"density": 0.5, "majority_sign_method": "frequency"}),
        ("ties_svd", ["a1", "a2", "a3"], [0.7, -0.4, 0.5], {"density": 0.6}),
        ("magnitude_prune", ["a1", "a2"], [0.7, 0.4], {"density": 0.5}),
        ("magnitude_prune_svd", ["a1", "a3"], [0.7, 0.4], {"density": 0.4}),
        ("dare_ties", ["a1", "a2"], [0.7, -0.4], {"density": 1.0}),
        ("svd", ["a2"], [1.0], {}),
        ("svd", ["a1", "a2", "a3"], [0.7, -0.4, 0.5], {"svd_rank": 1}),
    ]
    expected = []
    for requested, names, weights, opts in cases:
        density = opts.get("density")
        method = opts.get("majority_sign_method", "total")
        combination = "linear" if len(names) == 1 else requested
        deltas = {}
        for layer in LAYERS:
            cfgs = [ADAPTERS[n] for n in names]
            a = [factors[n][layer]["lora_A.weight"] for n in names]
            b = [factors[n][layer]["lora_B.weight"] for n in names]
            ws = [w * scaling(c, layer) for w, c in zip(weights, cfgs)]
            if combination == "cat":
                new_a = np.concatenate([ai * wi for ai, wi in zip(a, ws)], axis=0)
                new_b = np.concatenate(b, axis=1)
                deltas[layer] = new_b @ new_a
            elif combination.endswith("svd"):
                fn = "linear" if combination == "svd" else combination[: -len("_svd")]
                dw = [scaling(c, layer) * bi @ ai for c, ai, bi in zip(cfgs, a, b)]
                w = ws if SVD_WEIGHTS_HOLD_SCALING else weights
                delta = combine(fn, dw, w, density, method)
                q = opts.get("svd_rank") or max(ai.shape[0] for ai in a)
                u, s, vh = np.linalg.svd(delta, full_matrices=True)
                deltas[layer] = (u[:, :q] @ np.diag(s[:q])) @ vh[:q]
            else:
                wa = [np.sqrt(abs(x)) * (1 if x >= 0 else -1) for x in ws]
                wb = [np.sqrt(abs(x)) for x in ws]
                new_a = combine(combination, a, wa, density, method)
                new_b = combine(combination, b, wb, density, method)
                deltas[layer] = new_b @ new_a
        expected.append(
            {
                "combination": requested,
                "adapters": names,
                "weights": weights,
                "options": opts,
                "delta": {k: v.tolist() for k, v in deltas.items()},
            }
        )
    with open(out, "w") as f:
        json.dump(
            {
                "layers": LAYERS,
                "adapters": ADAPTERS,
                "factors": {n: {l: {k: v.tolist() for k, v in t.items()} for l, t in fs.items()} for n, fs in factors.items()},
                "cases": expected,
            },
            f,
        )


if __name__ == "__main__":
    main(sys.argv[1])
