#!/usr/bin/env python3
"""FusionBench's soft FW-Merging (tanganke/fusion_bench 54c9e8c, fusion_bench/method/fw_merging/
fw_soft.py) transcribed with NumPy on a convex toy, independently of the Java code, for
FwSoftReferenceTest.

The toy: tensors "a.weight" [4, 3] and "b.bias" [5] (the objectives' tensors) and "head.weight"
[2, 3] (no objective depends on it); a base model and four fine-tuned candidates; two tasks with
f_k(theta) = 1/2 sum_p ||theta_p - T_k,p||^2 over the objectives' tensors (in place of the
reference's cross-entropy and entropy losses on data).

fw_soft.py run (330-466):
  330-352: merged_model = the pretrained model (init_weight ""); the pool is the fine-tuned models
      ("initial" is commented out, 353-354).
  356-408: per iteration, per task: the gradient at merged_model (frank_wolfe_iteration 272-309),
      frank_wolfe_selection (311-325, granularity "task"): the model with the smallest
      sum_p dot(g_p, ckpt_p) / (||g_p|| ||ckpt_p||) over the checkpoint's raw weights, strict <,
      skipping names already picked in this iteration; stop when every model is picked.
  413-448 (merge_fn "adamerging"): layer-wise weights, one per picked model and tensor, all
      init_values = 0.3 in the first iteration and ada_coeff (1e-8) after (get_layer_wise_weights,
      layer_wise_fusion.py 27-49), merged over pretrained_model = the current merged model,
      unclamped (clamp_weights=False): theta + sum_j w_jp (s_jp - theta_p); run_adamerging
      (223-270): torch.optim.Adam([merge_weight], lr=1e-3) for ada_iters steps on the summed task
      losses; merge_and_unload with the final weights.
  Tensors without gradient keep their weights at the initial value: their mix is
      theta + w0 sum_j (s_j - theta).
torch.optim.Adam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, w -= lr (m / (1 - b1^t)) /
  (sqrt(v / (1 - b2^t)) + eps), b1 0.9, b2 0.999, eps 1e-8.

Regenerate with:
  python3 fw_soft_reference.py ../../../../../resources/dev/peft4j/merge/fw
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[".."] * 8, "peft-core", "src", "test", "java", "dev", "peft4j", "core", "io"))
from safetensors_np import save_safetensors  # noqa: E402

SHAPES = {"a.weight": (4, 3), "b.bias": (5,), "head.weight": (2, 3)}
OBJECTIVE = ["a.weight", "b.bias"]
MAX_ITERS, ADA_ITERS, LR, INIT, COEFF = 3, 60, 1e-3, 0.3, 1e-8



def main(out):
    rng = np.random.default_rng(20261208)
    base = {k: np.float32(rng.standard_normal(s)) for k, s in SHAPES.items()}
    save_safetensors(os.path.join(out, "base", "model.safetensors"), base)
    cands = []
    for i in range(4):
        c = {k: np.float32(base[k] + rng.standard_normal(s) * 0.5) for k, s in SHAPES.items()}
        save_safetensors(os.path.join(out, f"c{i}", "model.safetensors"), c)
        cands.append({k: v.astype(np.float64) for k, v in c.items()})
    truths = []
    for i, near in enumerate((1, 3)):
        t = {k: np.float32(cands[near][k] + rng.standard_normal(SHAPES[k]) * 0.1) for k in OBJECTIVE}
        save_safetensors(os.path.join(out, f"truth{i}", "model.safetensors"), t)
        truths.append({k: v.astype(np.float64) for k, v in t.items()})
    theta = {k: v.astype(np.float64) for k, v in base.items()}
    log = []
    for it in range(MAX_ITERS):
        picks = []
        for truth in truths:
            g = {k: theta[k] - truth[k] for k in OBJECTIVE}
            best, best_val = None, np.inf
            for ci, c in enumerate(cands):
                val = sum(np.dot(g[k].ravel(), c[k].ravel()) / (np.linalg.norm(g[k]) * np.linalg.norm(c[k])) for k in OBJECTIVE)
                if val < best_val and ci not in picks:
                    best, best_val = ci, val
            picks.append(best)
            if len(picks) >= len(cands):
                break
        w0 = INIT if it == 0 else COEFF
        w = np.full((len(picks), len(OBJECTIVE)), w0)
        m = np.zeros_like(w)
        v = np.zeros_like(w)
        for step in range(1, ADA_ITERS + 1):
            mixed = {k: theta[k] + sum(w[j, p] * (cands[c][k] - theta[k]) for j, c in enumerate(picks)) for p, k in enumerate(OBJECTIVE)}
            grad_theta = {k: sum(mixed[k] - t[k] for t in truths) for k in OBJECTIVE}
            gw = np.array([[np.dot(grad_theta[k].ravel(), (cands[c][k] - theta[k]).ravel()) for k in OBJECTIVE] for c in picks])
            m = 0.9 * m + 0.1 * gw
            v = 0.999 * v + 0.001 * gw * gw
            w = w - LR * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        new = {}
        for p, k in enumerate(OBJECTIVE):
            new[k] = theta[k] + sum(w[j, p] * (cands[c][k] - theta[k]) for j, c in enumerate(picks))
        new["head.weight"] = theta["head.weight"] + sum(w0 * (cands[c]["head.weight"] - theta["head.weight"]) for c in picks)
        theta = new
        log.append({"picks": [f"c{c}" for c in picks]})
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"iterations": log, "theta": {k: np.float32(v).tolist() for k, v in theta.items()},
                   "max_iters": MAX_ITERS, "ada_iters": ADA_ITERS}, f)


if __name__ == "__main__":
    main(sys.argv[1])
