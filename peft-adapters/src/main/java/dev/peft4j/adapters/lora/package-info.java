/** LoRA: low-rank adapters with rsLoRA scaling, dropout and per-module rank / alpha patterns. */
package dev.peft4j.adapters.lora;
