"""Writes the seed corpus of AdapterConfigFuzzTest: an adapter_config.json of every registered
method and initializer, as peft4j writes them, and one LoRA config as PEFT 0.21 writes it (with the
keys peft4j ignores).

    python3 adapter_config_corpus.py   (from this folder)
"""
import json
import os

OUT = os.path.join(os.path.dirname(__file__), "../../../../resources/dev/peft4j/init/"
                   "AdapterConfigFuzzTestInputs/readConfigRefusesCleanly")
COMMON = {"target_modules": ["query", "value"], "exclude_modules": None, "modules_to_save": ["classifier"],
          "task_type": "SEQ_CLS", "base_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
          "inference_mode": False, "revision": None}
LORA = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "use_rslora": False,
        "init_lora_weights": True, "rank_pattern": {}, "alpha_pattern": {}, "bias": "none",
        "fan_in_fan_out": False, "use_dora": False}
CONFIGS = {
    "lora": LORA,
    "lora-patterns": dict(LORA, use_rslora=True, rank_pattern={"query": 4}, alpha_pattern={"value": 7.5},
                          target_modules=".*\\.(query|value)$"),
    "pissa": dict(LORA, init_lora_weights="pissa_niter_4", lora_dropout=0.0),
    "lora-ga": dict(LORA, init_lora_weights="lora_ga", use_rslora=True,
                    lora_ga_config={"direction": "ArB2r", "scale": "stable", "stable_gamma": 16}),
    "eva": dict(LORA, init_lora_weights="eva", eva_config={"rho": 2.0, "tau": 0.99, "use_label_mask": True,
                "label_mask_value": -100, "whiten": False, "adjust_scaling_factors": True}),
    "nola": {"peft_type": "NOLA", "r": 8, "lora_alpha": 16, "num_basis_a": 1024, "num_basis_b": 1024,
             "nola_seed": 7, "regenerate_bases": False, "basis_chunk": 64},
    "bone": {"peft_type": "MISS", "r": 16, "miss_dropout": 0.0, "init_weights": True, "mini_r": 1,
             "bias": "none"},
    "bat": {"peft_type": "MISS", "r": 16, "miss_dropout": 0.0, "init_weights": "bat", "mini_r": 1,
            "bias": "none"},
    "flora": {"peft_type": "FLORA", "r": 8, "kernel_r": None, "scale": 1.0, "init_seed": 0},
    "pego": {"peft_type": "PEGO", "r": 4, "num_loras": 2, "reg_lambda": 0.001, "init_seed": 0},
    "peft-0.21-lora": dict(LORA, auto_mapping=None, peft_version="0.21.0", layers_pattern=None,
                           layers_to_transform=None, loftq_config={}, megatron_config=None,
                           megatron_core="megatron.core", layer_replication=None,
                           trainable_token_indices=None, lora_bias=False, target_parameters=None),
}
os.makedirs(OUT, exist_ok=True)
for name, config in CONFIGS.items():
    merged = dict(COMMON)
    merged.update(config)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(merged, f, indent=2, sort_keys=True)
