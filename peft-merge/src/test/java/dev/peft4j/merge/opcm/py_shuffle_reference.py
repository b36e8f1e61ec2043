#!/usr/bin/env python3
"""Python's own random.seed(seed); random.shuffle(x) (what FusionBench's OPCM does with
shuffle_order after L.seed_everything(seed), fusion_bench/method/opcm/opcm.py run), for
PyRandomTest.

Regenerate with:
  python3 py_shuffle_reference.py > ../../../../../resources/dev/peft4j/merge/opcm/shuffles.json
"""
import json
import random

cases = []
for seed in (0, 1, 42, 12345, 2**31 - 1, 2**33 + 7):
    for n in (1, 2, 5, 8, 20, 100):
        x = list(range(n))
        random.seed(seed)
        random.shuffle(x)
        cases.append({"seed": seed, "n": n, "order": x})
print(json.dumps(cases))
