#!/usr/bin/env python3
"""FusionBench's OPCM (tanganke/fusion_bench 54c9e8c, fusion_bench/method/opcm/opcm.py run and
merge_linear_weights, utils.py svd with full_matrices=True) transcribed with NumPy, for
OpcmFullProjectionTest.

The toy: a Linear "layer.q" (weight [3, 3], bias [3]) and an embedding "model.embed_tokens"
([5, 3]); a zero base; three fine-tuned models arriving in order. The first model's weight change
is D = Q diag(3, 2, 0) R^T: rank 2 with a one-dimensional null space on each side, so the full
SVD's null-space pair (u_3, v_3) is unique up to signs and (u_3 u_3^T) T (v_3 v_3^T), the part the
full projection zeroes and the thin one keeps, is well defined.

opcm.py run: merged = the first model; norms of the whole task vectors; for each next model,
lambda_t = 1 while merging, Linear weights by merge_linear_weights (P = U^T T V, P's diagonal and
P[:split, :split] zeroed, split = argmax(cumsum(S) / sum(S) > alpha), T' = U P V^T), everything else
by merge_other_parameters, new = pre + (lambda_prev (merged - pre) + T') / lambda_t; then
lambda_t = ||merged - pre|| / mean(norms), merged = pre + (merged - pre) mean(norms) / ||merged - pre||.

Regenerate with:
  python3 opcm_fusionbench.py ../../../../../resources/dev/peft4j/merge/opcm/full
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 8, "peft-core", "src", "test", "java", "dev", "peft4j", "core", "io"))
from safetensors_np import save_safetensors  # noqa: E402

ALPHA = 0.5



def main(out):
    rng = np.random.default_rng(20261208)
    shapes = {"layer.q.weight": (3, 3), "layer.q.bias": (3,), "model.embed_tokens.weight": (5, 3)}
    base = {k: np.zeros(s, dtype=np.float32) for k, s in shapes.items()}
    save_safetensors(os.path.join(out, "base", "model.safetensors"), base)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    r, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    models = []
    for i in range(3):
        m = {k: np.float32(rng.standard_normal(s)) for k, s in shapes.items()}
        if i == 0:
            m["layer.q.weight"] = np.float32(q @ np.diag([3.0, 2.0, 0.0]) @ r.T)
        save_safetensors(os.path.join(out, f"m{i}", "model.safetensors"), m)
        models.append({k: v.astype(np.float64) for k, v in m.items()})
    pre = {k: v.astype(np.float64) for k, v in base.items()}

    def tv_norm(model):
        return np.sqrt(sum(((model[k] - pre[k]) ** 2).sum() for k in shapes))

    merged = dict(models[0])
    norms = [tv_norm(merged)]
    prev_lambda = 1.0
    for task in models[1:]:
        norms.append(tv_norm(task))
        avg = np.mean(norms)
        new = {}
        for k in shapes:
            prev_tv = merged[k] - pre[k]
            task_tv = task[k] - pre[k]
            if k == "layer.q.weight":
                u, s, vh = np.linalg.svd(prev_tv, full_matrices=True)
                v = vh.T
                split = int(np.argmax(np.cumsum(s) / s.sum() > ALPHA))
                p = u.T @ task_tv @ v
                np.fill_diagonal(p, 0)
                p[:split, :split] = 0
                task_tv = u @ p @ v.T
            new[k] = pre[k] + (prev_lambda * prev_tv + task_tv) / 1.0
        n = tv_norm(new)
        prev_lambda = n / avg
        merged = {k: pre[k] + (new[k] - pre[k]) * (avg / n) for k in shapes}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({k: np.float32(v).tolist() for k, v in merged.items()}, f)


if __name__ == "__main__":
    main(sys.argv[1])
