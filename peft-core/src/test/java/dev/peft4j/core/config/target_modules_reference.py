#!/usr/bin/env python3
"""Which modules PEFT adapts, transcribed from PEFT's check_target_module_exists
(huggingface/peft 5d602fdb, src/peft/tuners/tuners_utils.py 2293-2363) for list-valued
target_modules, with exclude_modules, modules_to_save, layers_to_transform and layers_pattern,
independently of the Java code, for LayersToTransformTest.

  2307-2313  exclude_modules: a list excludes a key equal to an entry or ending in "." + entry.
  2317-2320  modules_to_save: re.match(rf"(^|.*\\.){m}($|\\..*)", key) excludes.
  2328-2333  a key listed in target_modules is found (and skips the layer filter); otherwise a key
             ending in "." + target.
  2335-2361  with layers_to_transform (an int, or a non-empty list): the layer index is the first
             match of re.match(r".*?\\.[^.]*\\.(\\d+)\\.", key), or with layers_pattern (a string or a
             list, tried in order) of re.match(rf".*?\\.{pattern}\\.(\\d+)\\.", key); no index: not
             found; otherwise found when the index equals the int or is in the list.

Regenerate with:
  python3 target_modules_reference.py > ../../../../../resources/dev/peft4j/core/config/target_modules.json
"""
import json
import re

PATHS = [
    "model.embed_tokens",
    "model.layers.0.self_attn.q_proj",
    "model.layers.0.self_attn.v_proj",
    "model.layers.1.self_attn.q_proj",
    "model.layers.1.mlp.experts.0.up_proj",
    "model.layers.1.mlp.experts.3.up_proj",
    "model.layers.10.self_attn.q_proj",
    "model.layers.10.mlp.experts.2.up_proj",
    "transformer.h.2.attn.c_attn",
    "transformer.h.3.attn.c_attn",
    "encoder.layer.2.attention.self.query",
    "encoder.layer.3.attention.self.query",
    "layers.0.query",
    "q_proj",
    "lm_head",
]

CONFIGS = [
    {"target_modules": ["q_proj", "v_proj"], "layers_to_transform": [0, 10]},
    {"target_modules": ["q_proj"], "layers_to_transform": 1},
    {"target_modules": ["q_proj", "up_proj"], "layers_to_transform": [1], "layers_pattern": "layers"},
    {"target_modules": ["up_proj"], "layers_to_transform": [0, 2], "layers_pattern": "experts"},
    {"target_modules": ["up_proj"], "layers_to_transform": [0, 2]},
    {"target_modules": ["c_attn", "query"], "layers_to_transform": [2, 3], "layers_pattern": ["h", "layer"]},
    {"target_modules": ["query"], "layers_to_transform": [0]},
    {"target_modules": ["model.layers.1.self_attn.q_proj", "q_proj"], "layers_to_transform": [0]},
    {"target_modules": ["q_proj"], "layers_to_transform": [0, 1, 10], "exclude_modules": ["layers.1.self_attn.q_proj"]},
    {"target_modules": ["q_proj", "v_proj"], "layers_to_transform": [], "layers_pattern": None},
    {"target_modules": ["q_proj"], "layers_to_transform": [0, 1], "modules_to_save": ["self_attn"]},
]


def check(config, key):
    exclude = config.get("exclude_modules")
    if exclude:
        if key in exclude or any(key.endswith(f".{e}") for e in exclude):
            return False
    for m in config.get("modules_to_save") or []:
        if re.match(rf"(^|.*\.){m}($|\..*)", key):
            return False
    targets = config["target_modules"]
    if key in targets:
        return True
    found = any(key.endswith(f".{t}") for t in targets)
    indexes = config.get("layers_to_transform")
    pattern = config.get("layers_pattern")
    using = indexes is not None and (len(indexes) != 0 if isinstance(indexes, list) else True)
    if using and found:
        index = None
        if pattern is None or len(pattern) == 0:
            index = re.match(r".*?\.[^.]*\.(\d+)\.", key)
        else:
            for p in [pattern] if isinstance(pattern, str) else pattern:
                index = re.match(rf".*?\.{p}\.(\d+)\.", key)
                if index is not None:
                    break
        if index is None:
            found = False
        else:
            index = int(index.group(1))
            found = index == indexes if isinstance(indexes, int) else index in indexes
    return found


print(json.dumps({"paths": PATHS, "cases": [{"config": c, "selected": [p for p in PATHS if check(c, p)]} for c in CONFIGS]}, indent=1))
