/**
 * LLaMA-style decoders with HF names: RMSNorm, rotary position embedding, grouped-query attention,
 * SwiGLU.
 */
package dev.peft4j.models.llama;
