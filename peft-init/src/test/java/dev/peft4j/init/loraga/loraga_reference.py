#!/usr/bin/env python3
"""PEFT's LoRA-GA initialization of one layer, transcribed with NumPy from PEFT's source
(huggingface/peft 5d602fdb, src/peft/tuners/lora/layer.py, LoraLayer.lora_ga_init, lines 619-734),
independently of the Java code, for LoraGaReferenceTest.

  659-661  grad in float32; U, S, V = torch.svd_lowrank(grad, q=min(4r, min(grad.shape)), niter=4):
           the gradient here has rank 6 <= q = 8, so the randomized SVD is the exact SVD (np.linalg.svd)
           up to rounding and up to the sign of each singular pair.
  664-669  Vh = V.T; keep the first 2r components.
  671-694  directions ArBr (A = Vh[1:2r:2], B = U[:, 0:2r:2] diag(S[0:2r:2])), A2rBr (A = Vh[r:2r],
           B = U[:, :r] diag(S[:r])), ArB2r (A = Vh[:r], B = U[:, r:2r] diag(S[r:2r])).
  699-714  scales: stable B *= out^(1/4) / sqrt(gamma); weight_svd B *= S_W[0] / S_B[0] with S_W from
           svd_lowrank(W, q=r, niter=4) (W's spectrum has a gap of 100 after r, so that is the
           exact top singular value up to rounding); gd_scale A /= s, B /= s; unit nothing.
  716-734  W_res = W - s B A in float32 (the factors cast to the adapter dtype first: float32 here).
  "paper"  (peft4j's option, the authors' code as peft4j followed it before PEFT 0.19): A = Vh[:r],
           B = U[:, r:2r] (ArB2r), singular values unused, both times out^(1/4) / sqrt(gamma).

Regenerate with:
  python3 loraga_reference.py > ../../../../../resources/dev/peft4j/init/loraga/reference.json
"""
import json

import numpy as np

OUT, IN, R, GAMMA = 12, 10, 2, 16


def f32(x):
    return np.asarray(x, dtype=np.float32)


rng = np.random.default_rng(20261207)
grad = f32(rng.standard_normal((OUT, 6)) @ rng.standard_normal((6, IN)) / 4)
qu, _ = np.linalg.qr(rng.standard_normal((OUT, IN)))
qv, _ = np.linalg.qr(rng.standard_normal((IN, IN)))
spectrum = np.array([3.0, 2.0, 0.02, 0.015, 0.012, 0.01, 0.008, 0.006, 0.004, 0.002])
weight = f32(qu @ np.diag(spectrum) @ qv.T)

U, S, Vh = np.linalg.svd(grad.astype(np.float64), full_matrices=False)
U, S, Vh = U[:, : 2 * R], S[: 2 * R], Vh[: 2 * R]


def init(direction, scale, scaling):
    if direction == "ArBr":
        a, b, s_b = Vh[1 : 2 * R : 2], U[:, 0 : 2 * R : 2], S[0 : 2 * R : 2]
    elif direction == "A2rBr":
        a, b, s_b = Vh[R : 2 * R], U[:, :R], S[:R]
    else:
        a, b, s_b = Vh[:R], U[:, R : 2 * R], S[R : 2 * R]
    stable = OUT**0.25 / GAMMA**0.5
    if scale == "paper":
        a, b = a * stable, b * stable
    else:
        b = b @ np.diag(s_b)
        if scale == "stable":
            b = b * stable
        elif scale == "weight_svd":
            w_s = np.linalg.svd(weight.astype(np.float64), compute_uv=False)
            if s_b[0] > 0:
                b = b * (w_s[0] / s_b[0])
        elif scale == "gd_scale":
            a, b = a / scaling, b / scaling
    a, b = f32(a), f32(b)
    residual = f32(weight.astype(np.float32) - np.float32(scaling) * (b @ a))
    return a, b, residual


cases = []
for direction in ["ArB2r", "A2rBr", "ArBr"]:
    for scale in ["stable", "weight_svd", "gd_scale", "unit", "paper"]:
        for alpha, rslora in [(4, False), (4, True)]:
            scaling = alpha / np.sqrt(R) if rslora else alpha / R
            a, b, residual = init(direction, scale, scaling)
            cases.append(
                {
                    "direction": direction,
                    "scale": scale,
                    "lora_alpha": alpha,
                    "use_rslora": rslora,
                    "lora_A": a.tolist(),
                    "lora_B": b.tolist(),
                    "residual": residual.tolist(),
                }
            )

print(
    json.dumps(
        {"r": R, "stable_gamma": GAMMA, "grad": grad.tolist(), "weight": weight.tolist(), "cases": cases}
    )
)
