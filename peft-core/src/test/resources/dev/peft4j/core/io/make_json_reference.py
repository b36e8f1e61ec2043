"""Prints how Hugging Face writes JSON configs (json.dumps(obj, indent=2, sort_keys=True)).

Regenerate: python3 make_json_reference.py > sorted_config.json
JsonIOTest builds the same object in Java and expects JsonIO to produce exactly this text.
"""
import json

config = {
    "r": 8,
    "lora_alpha": 16,
    "target_modules": ["query", "value"],
    "rank_pattern": {},
    "alpha_pattern": {"b.layer": 2, "a.layer": 1},
    "nested": {"z": None, "y": [1, {"d": True, "c": "x<y>&'"}], "empty_list": []},
    "lora_dropout": 0.05,
    "peft_type": "LORA",
    "Upper": "sorted before lower case",
}
print(json.dumps(config, indent=2, sort_keys=True))
