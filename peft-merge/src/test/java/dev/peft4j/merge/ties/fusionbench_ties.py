#!/usr/bin/env python3
"""FusionBench's TIES merging (tanganke/fusion_bench 54c9e8c) transcribed with NumPy, applied per
tensor, independently of the Java code, for TiesTest.

fusion_bench/method/ties_merging/ties_merging.py 86-100: task vectors tv = ft - ptm, merged_tv =
ties_merging(tv, reset_thresh=threshold, merge_func), result ptm + scaling_factor * merged_tv
(config/method/ties_merging.yaml: scaling_factor 0.3, threshold 20, merge_func sum).
fusion_bench/method/ties_merging/ties_merging_utils.py:
  topk_values_mask (139-167): K > 1 means percent; k = d - int(d K); keep |M| >= kthvalue(|M|, k).
  resolve_zero_signs (170-185): zeros of sign(sum) take sign(sum of the signs) ("majority").
  resolve_sign (188-203): sign(sum over tasks of the trimmed vectors).
  disjoint_merge (206-242): rows_to_keep = where(sign > 0, v > 0, v < 0); mean: sum / max(count of
      non-zero selected, 1); sum; max: max |selected| * sign.
  ties_merging (245-270): trim, elect, disjoint merge.
FusionBench flattens the whole model (state_dict_to_vector) before trimming; peft4j trims each
tensor (documented), so this script applies ties_merging to each tensor separately.

Regenerate with:
  python3 fusionbench_ties.py ../../../../../resources/dev/peft4j/merge/ties
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 8, "peft-core", "src", "test", "java", "dev", "peft4j", "core", "io"))
from safetensors_np import save_safetensors  # noqa: E402

SHAPES = {"a.weight": (4, 5), "b.weight": (10,), "c.bias": (7,)}  # 20 and 10 entries: d K integral



def topk_values_mask(m, k_frac):
    if k_frac > 1:
        k_frac /= 100
    d = m.shape[1]
    k = d - int(d * k_frac)
    if k == 0:
        return m
    kth = np.sort(np.abs(m), axis=1)[:, k - 1 : k]
    return m * (np.abs(m) >= kth)


def resolve_sign(v):
    sign = np.sign(v.sum(axis=0))
    majority = np.sign(sign.sum())
    sign[sign == 0] = majority
    return sign


def disjoint_merge(v, merge_func, sign):
    keep = np.where(sign[None, :] > 0, v > 0, v < 0)
    selected = v * keep
    if merge_func == "mean":
        return selected.sum(axis=0) / np.maximum((selected != 0).sum(axis=0), 1)
    if merge_func == "sum":
        return selected.sum(axis=0)
    return np.abs(selected).max(axis=0) * sign


def ties_merging(tv, threshold, merge_func):
    trimmed = topk_values_mask(tv.copy(), threshold)
    return disjoint_merge(trimmed, merge_func, resolve_sign(trimmed))


CASES = [
    {"merge_func": "sum", "k": 0.2, "lambda": 0.3},
    {"merge_func": "mean", "k": 0.3, "lambda": 0.8},
    {"merge_func": "max", "k": 0.5, "lambda": 1.0},
]


def main(out):
    rng = np.random.default_rng(20261208)
    base = {k: np.float32(rng.standard_normal(s)) for k, s in SHAPES.items()}
    save_safetensors(os.path.join(out, "base", "model.safetensors"), base)
    tuned = []
    for i in range(3):
        t = {k: np.float32(base[k] + rng.standard_normal(s) * 0.2) for k, s in SHAPES.items()}
        save_safetensors(os.path.join(out, f"ft{i}", "model.safetensors"), t)
        tuned.append(t)
    expected = []
    for case in CASES:
        result = {}
        for k in SHAPES:
            # the task vector as peft4j computes it: a float32 difference
            tv = np.stack([(t[k] - base[k]).reshape(-1) for t in tuned]).astype(np.float64)
            merged = base[k].reshape(-1) + case["lambda"] * ties_merging(tv, case["k"], case["merge_func"])
            result[k] = np.float32(merged).reshape(SHAPES[k]).tolist()
        expected.append({**case, "tensors": result})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main(sys.argv[1])
